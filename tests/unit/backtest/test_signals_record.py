"""The signals record: restore(record(x)) re-decides to the verdict `vmc run` made, for each
signal; scores kept to 4 decimals decide every threshold as the live run did; fitting."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from consumer.backtest.redecide import Redecider
from consumer.backtest.restore import BadRecord, parse, restore
from consumer.inference.triton_client import TextRead
from consumer.media.coverage import Coverage
from consumer.publishing.signals_record import quantised
from tests.unit.backtest.judged import (
    SPEC,
    entry,
    judge,
    judged,
    reason_keys,
    settings,
    track,
)

BOX = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))
CASES: dict[str, dict[str, Any]] = {
    "allow": {"peak": 0.1},
    "review_scores": {"peak": 0.6},
    "block_scores": {"peak": 0.85},
    "at_review_threshold": {"peak": 0.5},
    "known_content_block": {"peak": 0.1, "matched": {"known_content": [entry()]}},
    "known_content_allowed": {"peak": 0.1, "matched": {"known_content": [
        entry("fp", "allow", (0, 1, 2), 0.75, entry_id="fp1"),
        replace(entry(frames=(1,), query_share=0.25), suppressed_by="fp")]}},
    "known_content_held_beside_allowed": {"peak": 0.1, "matched": {"known_content": [
        entry("fp", "allow", (0,), 0.25, entry_id="fp1"), entry(frames=(2, 3))]}},
    "text_rule": {"peak": 0.1, "texts": {2: [TextRead("BUY NOW cheap", 0.9, BOX)]}},
    "text_too_unsure": {"peak": 0.1, "texts": {2: [TextRead("buy now", 0.2, BOX)]}},
    "music_match": {"peak": 0.1, "matched": {"music": [track()]}},
    "music_unheard": {"peak": 0.1, "audio": "partial"},
    "incomplete_coverage": {"peak": 0.1, "coverage": Coverage([0.04, 2.04], 8.0, 5.9, 3.0,
                                                              False, "decode_budget")},
    "inference_error": {"peak": 0.1, "inference_error": "nsfw_classifier: wrong shape"},
    "given_up": {"peak": 0.1, "given_up": {"ocr": "ocr: over its budget"}},
    "nan_score": {"peak": float("nan")},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_restored_record_re_decides_to_the_live_verdict(case: str) -> None:
    configured = settings()
    live = judged(judge(configured), f"v-{case}", **CASES[case])
    assert live.signals is not None
    record = parse(live.signals.value)
    decision = Redecider(configured)(restore(record))
    assert decision.verdict == live.assessment.decision.verdict
    assert reason_keys(decision.reasons) == reason_keys(live.assessment.decision.reasons)
    assert record["verdict"] == live.content["verdict"]
    assert record["verdict_id"] == live.content["verdict_id"]


def test_the_cases_cover_every_verdict_and_signal() -> None:
    configured = settings()
    j = judge(configured)
    verdicts = {judged(j, c, **CASES[c]).assessment.decision.verdict for c in CASES}
    assert verdicts == {"allow", "review", "block"}
    categories = {r.category for c in CASES
                  for r in judged(j, c, **CASES[c]).assessment.decision.reasons}
    assert {"nsfw", "known_content_match", "text_rule", "music_match", "incomplete_audio",
            "incomplete_coverage", "invalid_model_output",
            "model_budget_exceeded"} <= categories


def test_the_record_follows_the_contract() -> None:
    configured = settings()
    live = judged(judge(configured), "v1", 0.6, matched={"known_content": [entry()]},
                  texts={1: [TextRead("hello", 0.87654, BOX)]})
    assert live.signals is not None
    assert live.signals.topic == configured.kafka.topics.signals
    assert live.signals.key == b"v1"
    record = json.loads(live.signals.value)
    assert record["schema"] == "vmc.signals/1"
    for name in ("video_id", "verdict_id", "policy_version", "verdict", "reasons", "scores",
                 "uploaded_at", "decided_at", "source", "duration_s", "coverage",
                 "keyframes_analyzed", "frames", "model_scores", "texts", "matched",
                 "inference_error", "given_up", "technical", "model_versions"):
        assert name in record, name
    assert record["reasons"] == live.content["reasons"]
    assert record["frames"]["at_s"] == [0.04, 2.04, 4.04, 6.04]
    assert record["frames"]["pdq"][1] == "1" * 64 and record["frames"]["full_pdq"][0] == ""
    assert record["model_scores"][SPEC.name]["classes"] == list(SPEC.labels)
    assert record["model_scores"][SPEC.name]["rows"][1] == [0.99, 0.6]
    assert record["texts"] == {"1": [{"text": "hello", "confidence": 0.8765,
                                      "box": [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0],
                                              [0.0, 5.0]]}]}
    assert record["matched"]["known_content"][0]["entry_id"] == "e1"
    assert record["uploaded_at"] == "2026-12-01T00:00:00Z"


def test_four_decimals_decide_every_threshold_of_four_decimals_as_the_live_run() -> None:
    rng = np.random.default_rng(7)
    thresholds = [k / 10_000 for k in rng.integers(1, 10_000, 300)] + [0.3, 0.5, 0.7, 0.8]
    for t in thresholds:
        t32 = np.float32(t)
        around = np.array([np.nextafter(t32, np.float32(0), dtype=np.float32) * 1,
                           t32, np.nextafter(t32, np.float32(1), dtype=np.float32),
                           t32 - np.float32(4e-5), t32 + np.float32(4e-5)], np.float32)
        stored = np.array(quantised(around.reshape(-1, 1)), np.float64).ravel()
        restored = stored.astype(np.float32)
        assert list(restored >= t) == list(around >= t), (t, around, stored)


def test_non_finite_scores_are_kept_as_null_and_fail_closed_again() -> None:
    assert quantised(np.array([[np.nan, np.inf, 0.25]], np.float32)) == [[None, None, 0.25]]


def test_a_record_over_the_limit_loses_its_hashes_first_and_stays_restorable() -> None:
    configured = settings()
    live = judged(judge(configured), "v-big", 0.6, count=400)
    full = len(json.loads(live.signals.value)["frames"]["pdq"]) if live.signals else 0
    assert full == 400
    small = judged(judge(configured, limit_bytes=40_000), "v-big", 0.6, count=400)
    assert small.signals is not None and len(small.signals.value) < 40_000
    record = parse(small.signals.value)
    assert set(record["truncated"]) <= {"frames.pdq", "frames.mirror_pdq", "frames.full_pdq"}
    assert Redecider(configured)(restore(record)).verdict == "review"


def test_a_record_whose_evidence_was_cut_is_refused_by_the_backtest() -> None:
    configured = settings()
    texts = {i: [TextRead("x" * 400, 0.9, BOX)] * 20 for i in range(40)}
    live = judged(judge(configured, limit_bytes=20_000), "v-text", 0.1, count=40,
                  texts=texts)
    assert live.signals is not None
    assert "texts" in json.loads(live.signals.value)["truncated"]
    with pytest.raises(BadRecord) as caught:
        parse(live.signals.value)
    assert caught.value.reason == "truncated"
