"""Review tasks (audit sampling determinism) and decision parsing: pure, no broker."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from consumer.review.decisions import MalformedDecision, decision_id, parse_decision
from consumer.review.tasks import audit_draw, review_task, sampled_because
from consumer.review_settings import ReviewSettings


def test_audit_sample_is_a_function_of_the_verdict_id_and_near_its_rate() -> None:
    settings = ReviewSettings(audit_allow_rate=0.01, audit_block_rate=0.5)
    ids = [f"{i:032x}" for i in range(20_000)]
    allow = [v for v in ids if sampled_because("allow", v, settings)]
    assert allow == [v for v in ids if sampled_because("allow", v, settings)]  # same again
    assert 150 <= len(allow) <= 250  # 1% of 20,000
    block = sum(sampled_because("block", v, settings) == "audit_block" for v in ids)
    assert 9_500 <= block <= 10_500
    # raising the rate keeps every video sampled before
    wider = ReviewSettings(audit_allow_rate=0.05)
    assert all(sampled_because("allow", v, wider) for v in allow)


def test_every_review_verdict_is_a_task_and_unprocessable_is_not_sampled() -> None:
    none = ReviewSettings(audit_allow_rate=0, audit_block_rate=0)
    assert sampled_because("review", "x", none) == "review"
    assert sampled_because("allow", "x", none) is None
    assert sampled_because("unprocessable", "x", ReviewSettings(audit_allow_rate=1)) is None
    assert sampled_because("block", "x", ReviewSettings(audit_block_rate=1)) == "audit_block"
    assert 0 <= audit_draw("abc") < 1


def test_task_carries_reasons_frame_times_and_evidence_without_bookkeeping() -> None:
    verdict = {"verdict_id": "v1id", "video_id": "v1", "verdict": "review",
               "policy_version": "p1", "reasons": [{"category": "nsfw", "score": 0.6,
                                                     "threshold": 0.5, "at_s": 1.5}],
               "scores": {"nsfw": 0.6}, "processed_at": "2026-01-01T00:00:01Z",
               "source": {"topic": "t", "partition": 0, "offset": 3}}
    tags = {"verdict_id": "v1id", "video_id": "v1", "run_id": "live", "labels": [{"x": 1}],
            "frames": [{"at_s": 0.0, "pdq": "a" * 64, "quality": 90}], "text": []}
    task = review_task(verdict, tags, sampled="review", frames_at_s=[0.0, 1.5004],
                       uploaded_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert task["task_id"] == task["verdict_id"] == "v1id"
    assert task["reasons"][0]["at_s"] == 1.5 and task["frames_at_s"] == [0.0, 1.5]
    assert set(task["evidence"]) == {"labels", "frames", "text"}
    assert task["uploaded_at"] == "2026-01-01T00:00:00Z" and task["sampled"] == "review"
    json.dumps(task)


def _decision(**fields: object) -> bytes:
    base = {"video_id": "v1", "verdict_id": "v1id", "decision": "violating",
            "categories": ["nsfw"], "reviewer": "r7", "time": "2026-01-02T10:00:00Z"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


def test_decision_id_is_stable_unless_given() -> None:
    one, again = parse_decision(_decision()), parse_decision(_decision())
    assert one.decision_id == again.decision_id == decision_id(
        "v1", "v1id", "r7", datetime(2026, 1, 2, 10, tzinfo=UTC), "violating")
    assert parse_decision(_decision(decision="not_violating")).decision_id != one.decision_id
    assert parse_decision(_decision(id="d-9")).decision_id == "d-9"
    # the same moment written in another zone is the same decision
    assert parse_decision(_decision(time="2026-01-02T11:00:00+01:00")).decision_id == \
        one.decision_id


@pytest.mark.parametrize(("value", "says"), [
    (b"{not json", "not JSON"),
    (b"[1]", "not a JSON object"),
    (None, "tombstone"),
    (_decision(decision="maybe"), "`decision` must be"),
    (_decision(video_id=None), "`video_id`"),
    (_decision(time="yesterday"), "`time`"),
    (_decision(time="2026-01-02T10:00:00"), "with a zone"),
    (_decision(categories="nsfw"), "`categories`"),
    (b"x" * 70_000, "bytes"),
])
def test_malformed_decisions_say_why(value: bytes | None, says: str) -> None:
    with pytest.raises(MalformedDecision, match=re.escape(says)):
        parse_decision(value)
