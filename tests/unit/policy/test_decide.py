from __future__ import annotations

import numpy as np
import pytest

from consumer.media.coverage import Coverage, coverage_of
from consumer.policy import category_scores, decide
from consumer.policy.decide import INCOMPLETE_COVERAGE, INVALID_OUTPUT, require_coverage
from consumer.settings import PolicySettings
from consumer.signals.scores import CategoryRule

PTS = [0.0, 2.0, 4.0, 6.0]
RULES = {
    "nudity": CategoryRule(review=0.5, block=0.8),
    "suggestive": CategoryRule(review=0.7, min_keyframes=2),
}
POLICY = PolicySettings(version="test-1")


def _scores(nudity: list[float], suggestive: list[float]) -> dict[str, np.ndarray]:
    return {"nudity": np.array(nudity, np.float32),
            "suggestive": np.array(suggestive, np.float32)}


def test_clean_video_is_allowed_with_scores_summarised() -> None:
    decision = decide(_scores([0.1, 0.2, 0.0, 0.1], [0.3, 0.1, 0.0, 0.2]), PTS, RULES)
    assert decision.verdict == "allow"
    assert decision.reasons == []
    assert decision.scores == {"nudity": pytest.approx(0.2), "suggestive": pytest.approx(0.3)}


def test_block_reason_names_category_score_threshold_and_time() -> None:
    decision = decide(_scores([0.1, 0.91, 0.3, 0.0], [0.0] * 4), PTS, RULES)
    assert decision.verdict == "block"
    (reason,) = decision.reasons
    assert (reason.category, reason.threshold, reason.at_s, reason.action) == \
        ("nudity", 0.8, 2.0, "block")
    assert reason.score == pytest.approx(0.91)


def test_score_between_review_and_block_is_review() -> None:
    assert decide(_scores([0.6, 0, 0, 0], [0] * 4), PTS, RULES).verdict == "review"


def test_k_of_n_needs_k_keyframes_over_threshold() -> None:
    one = decide(_scores([0] * 4, [0.9, 0.1, 0.1, 0.1]), PTS, RULES)
    two = decide(_scores([0] * 4, [0.9, 0.1, 0.75, 0.1]), PTS, RULES)
    assert one.verdict == "allow"
    assert two.verdict == "review"
    assert two.reasons[0].at_s == 0.0


def test_k_is_capped_at_the_number_of_keyframes() -> None:
    decision = decide(_scores([0.0], [0.95]), [3.0], RULES)
    assert decision.verdict == "review"


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_scores_fail_closed_to_review(bad: float) -> None:
    decision = decide(_scores([0.1, bad, 0, 0], [0] * 4), PTS, RULES)
    assert decision.verdict == "review"
    assert decision.reasons[0].category == INVALID_OUTPUT


def test_missing_policy_category_fails_closed_to_review() -> None:
    decision = decide({"nudity": np.zeros(4, np.float32)}, PTS, RULES)
    assert decision.verdict == "review"
    assert "suggestive" in (decision.reasons[0].detail or "")


def test_wrong_number_of_scores_fails_closed() -> None:
    decision = decide(_scores([0.1, 0.1], [0.1, 0.1]), PTS, RULES)
    assert decision.verdict == "review"


def test_category_scores_take_the_max_over_mapped_labels() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.9, 0.1, 0.0]], np.float32)
    out = category_scores(scores, ("A", "B", "FACE"), {"A": "nudity", "B": "nudity"})
    assert set(out) == {"nudity"}
    np.testing.assert_allclose(out["nudity"], [0.7, 0.9])


def test_category_scores_reject_a_label_count_mismatch() -> None:
    with pytest.raises(ValueError, match="does not match 2 labels"):
        category_scores(np.zeros((1, 3), np.float32), ("A", "B"), {})


def test_block_below_review_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="below review"):
        CategoryRule(review=0.9, block=0.5)


def _coverage(complete: bool, stopped_by: str | None = None) -> Coverage:
    return coverage_of([2.0, 6.0] if complete else [2.0], 8.0, 4.5, stopped_by=stopped_by)


def test_a_video_not_seen_whole_is_never_allowed() -> None:
    clean = decide(_scores([0.1] * 4, [0.1] * 4), PTS, RULES)
    decision = require_coverage(clean, _coverage(False), POLICY)
    assert decision.verdict == "review"
    assert decision.reasons[-1].category == INCOMPLETE_COVERAGE
    assert "largest unseen gap 6.0 s > 4.5 s" in (decision.reasons[-1].detail or "")
    budget = require_coverage(clean, _coverage(True, "decode_budget"), POLICY)
    assert budget.verdict == "review" and "decode_budget" in (budget.reasons[-1].detail or "")


def test_a_block_stays_a_block_and_a_complete_video_is_unchanged() -> None:
    blocked = decide(_scores([0.9] * 4, [0.1] * 4), PTS, RULES)
    assert require_coverage(blocked, _coverage(False), POLICY).verdict == "block"
    clean = decide(_scores([0.1] * 4, [0.1] * 4), PTS, RULES)
    assert require_coverage(clean, _coverage(True), POLICY) == clean


def test_the_policy_may_let_the_scores_decide_alone() -> None:
    relaxed = POLICY.model_copy(update={"incomplete_coverage": "scores"})
    clean = decide(_scores([0.1] * 4, [0.1] * 4), PTS, RULES)
    assert require_coverage(clean, _coverage(False), relaxed).verdict == "allow"
