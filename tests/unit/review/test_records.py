"""The review task record: only the live run, keyed by video, evidence cut to fit."""

from __future__ import annotations

import json

from consumer.publishing.outputs import Record
from consumer.review.records import ReviewTasks
from consumer.review_settings import ReviewSettings

VERDICT = {"verdict_id": "id1", "video_id": "v1", "verdict": "review", "policy_version": "p",
           "reasons": [], "scores": {}}
TAGS = Record("tags", b"v1", json.dumps({"video_id": "v1", "labels": ["x" * 500]}).encode(),
              [("vmc.run_id", b"live")])


def test_live_review_verdict_becomes_a_task_keyed_by_video() -> None:
    tasks = ReviewTasks(ReviewSettings(), "review", run_id="live", limit_bytes=100_000)
    record = tasks.record(VERDICT, TAGS, frames_at_s=[0.0], uploaded_at=None)
    assert record is not None and record.topic == "review" and record.key == b"v1"
    assert json.loads(record.value)["evidence"]["labels"] == ["x" * 500]
    assert tasks.record({**VERDICT, "verdict": "allow", "verdict_id": "id2"}, TAGS,
                        frames_at_s=[],
                        uploaded_at=None) is None  # id2 is not in the 1% sample (id1 is)


def test_replays_and_switched_off_tasks_ask_no_people() -> None:
    assert ReviewTasks(ReviewSettings(), "review", run_id="rescore-1",
                       limit_bytes=100_000).record(VERDICT, TAGS, frames_at_s=[],
                                                   uploaded_at=None) is None
    assert ReviewTasks(ReviewSettings(tasks=False), "review", run_id="live",
                       limit_bytes=100_000).record(VERDICT, TAGS, frames_at_s=[],
                                                   uploaded_at=None) is None


def test_a_task_too_large_keeps_the_decision_and_drops_the_evidence() -> None:
    tasks = ReviewTasks(ReviewSettings(), "review", run_id="live", limit_bytes=400)
    record = tasks.record(VERDICT, TAGS, frames_at_s=[0.0], uploaded_at=None)
    assert record is not None
    task = json.loads(record.value)
    assert task["evidence"] == {} and task["evidence_cut"] is True and task["verdict_id"]
