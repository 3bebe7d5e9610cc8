"""The review loop against the real Kafka of the test stack, from the records the pipeline
itself publishes: review tasks for `review` verdicts and the audit sample, and the decisions
consumer reading the pipeline's signals records (video, verdict id, reasons, frames, scores,
upload time) to bank a confirmed video, apply replayed and reordered decisions once, and send
a malformed or unknown decision to the DLQ.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from consumer.review.state import StateStore
from consumer.settings import KafkaTopics, Settings
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    uploads,
)
from tests.integration.pipeline.review_helpers import (
    after,
    decision,
    decisions_loop,
    loop_topics,
    send,
    wait_for,
)


def _by_video(messages: list[Any]) -> dict[str, dict[str, Any]]:
    return {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in messages}


def _check_signals_records(signals: list[Any], records: dict[str, dict[str, Any]],
                           by_video: dict[str, dict[str, Any]], started: datetime) -> None:
    """The pipeline's own signals records carry what the decisions consumer reads."""
    assert sorted(records) == sorted(by_video) and all(
        m.key() == json.loads(m.value())["video_id"].encode() for m in signals)
    for video, record in records.items():
        verdict = by_video[video]
        assert record["schema"] == "vmc.signals/1"
        assert {k: record[k] for k in ("verdict_id", "verdict", "reasons", "scores")} == {
            k: verdict[k] for k in ("verdict_id", "verdict", "reasons", "scores")}
        frames = record["frames"]
        assert len(frames["at_s"]) == len(frames["pdq"]) == len(frames["quality"]) == \
            verdict["keyframes_analyzed"] > 0
        assert all(len(h) == 64 for h in frames["pdq"])
        uploaded = datetime.fromisoformat(record["uploaded_at"].replace("Z", "+00:00"))
        assert abs((uploaded - started).total_seconds()) < 600  # the upload event's time


def _check_state(path: Path, records: dict[str, dict[str, Any]]) -> None:
    """The state store holds each verdict as its signals record has it."""
    store = StateStore(path)
    try:
        for video, record in records.items():
            row = store.verdict(record["verdict_id"])
            assert row is not None and row["video_id"] == video
            assert {k: row[k] for k in ("reasons", "scores", "frames", "uploaded_at")} == {
                k: record[k] for k in ("reasons", "scores", "frames", "uploaded_at")}
    finally:
        store.close()


def _decisions_read(registry: CollectorRegistry) -> float:
    """Decision records the loop has finished with, whatever their outcome."""
    return sum(sample.value for metric in registry.collect()
               if metric.name == "consumer_review_decisions"
               for sample in metric.samples if sample.name.endswith("_total"))


def _restarted_and_rebuilt(settings: Settings, tmp_path: Path,
                           again: tuple[str, bytes]) -> None:
    """Restarted on its state file, the loop reads on from its positions (one more copy of a
    decision is a duplicate, nothing earlier is read again); with its state file lost, it
    reads both topics from the start and rebuilds the same outcomes and the same bank."""
    banked = (tmp_path / "confirmed" / "v0.txt").read_bytes()
    send(settings, settings.kafka.topics.decisions, [again])
    with decisions_loop(settings) as (_, registry):
        wait_for("the copy read", lambda: _decisions_read(registry) >= 1, 90)
    assert _decisions_read(registry) == 1 and registry.get_sample_value(
        "consumer_review_decisions_total", {"decision": "violating", "outcome": "duplicate"}) == 1
    lost = settings.model_copy(update={"review": settings.review.model_copy(
        update={"state_path": str(tmp_path / "rebuilt.sqlite")})})
    with decisions_loop(lost) as (_, registry):
        wait_for("all 8 decision records read", lambda: _decisions_read(registry) == 8, 90)
    outcomes = {(s.labels["decision"], s.labels["outcome"]): s.value
                for m in registry.collect() if m.name == "consumer_review_decisions"
                for s in m.samples if s.name.endswith("_total")}
    assert outcomes == {("violating", "applied"): 2, ("violating", "duplicate"): 2,
                        ("violating", "superseded"): 1, ("not_violating", "superseded"): 1,
                        ("?", "malformed_decision"): 1, ("violating", "unknown_verdict"): 1}
    assert (tmp_path / "confirmed" / "v0.txt").read_bytes() == banked


def test_review_tasks_for_the_audit_sample_then_decisions_bank_apply_once_and_dlq(
        stack: RunningStack, topics: KafkaTopics, unique: str, sample_videos: list[Path],
        stack_settings: Settings, tmp_path: Path) -> None:
    names = loop_topics(topics, unique, stack_settings)
    settings = pipeline_settings(stack, names, f"{unique}-g",
                                 review={"audit_allow_rate": 1.0, "audit_block_rate": 1.0,
                                         "confirmed_bank": str(tmp_path / "confirmed"),
                                         "state_path": str(tmp_path / "state.sqlite"),
                                         "decisions_group_id": f"{unique}-decisions",
                                         "unknown_verdict_wait_s": 20})
    started = datetime.now(UTC)
    produce(settings, uploads(sample_videos, 3))
    with running_pipeline(settings):
        verdicts = read_topic(settings, names.verdicts, expect=3, timeout_s=180)
        tasks = read_topic(settings, names.review, expect=3, timeout_s=60)
        signals = read_topic(settings, names.signals, expect=3, timeout_s=60)
    by_video = _by_video(verdicts)
    assert len(by_video) == 3
    task_values = [json.loads(m.value()) for m in tasks]
    # every verdict (allow or review here) asked for people once, keyed by its video
    assert sorted(t["video_id"] for t in task_values) == sorted(by_video)
    for task in task_values:
        verdict = by_video[task["video_id"]]
        assert task["verdict_id"] == verdict["verdict_id"]
        assert task["sampled"] == ("review" if verdict["verdict"] == "review"
                                   else f"audit_{verdict['verdict']}")
        assert task["frames_at_s"] and "frames" in task["evidence"]

    records = _by_video(signals)
    _check_signals_records(signals, records, by_video, started)

    v0 = by_video["v0"]
    late_violating, newest_clear, final_violating = (
        decision(v0, "violating", after(started, 1)),
        decision(v0, "not_violating", after(started, 5)),
        decision(v0, "violating", after(started, 9)))
    send(settings, names.decisions, [
        final_violating, late_violating, newest_clear, final_violating,  # reordered + replayed
        decision(by_video["v1"], "violating", after(started, 2)),
        ("v9", b"{not json"),
        ("v9", json.dumps({"video_id": "v9", "verdict_id": "nope", "decision": "violating",
                           "reviewer": "r1", "time": "2026-11-23T10:00:00Z"}).encode())])

    with decisions_loop(settings) as (_, registry):
        value = registry.get_sample_value
        wait_for("all 7 decision records read", lambda: _decisions_read(registry) == 7, 90)
    confirmed = sorted(p.name for p in (tmp_path / "confirmed").iterdir())
    assert confirmed == ["v0.txt", "v1.txt"]  # v0's latest (+9 min) is violating
    label, *banked = (tmp_path / "confirmed" / "v0.txt").read_text().splitlines()
    assert label.startswith("# label: ")  # the deciding decision's id
    assert sorted(line.split(",")[2] for line in banked) == sorted(records["v0"]["frames"]["pdq"])
    assert value("consumer_review_decisions_total",
                 {"decision": "violating", "outcome": "duplicate"}) == 1
    assert value("consumer_review_decisions_total",
                 {"decision": "violating", "outcome": "superseded"}) == 1
    assert value("consumer_review_decisions_total",
                 {"decision": "not_violating", "outcome": "superseded"}) == 1
    assert value("consumer_review_decisions_total",
                 {"decision": "violating", "outcome": "applied"}) == 2
    assert value("consumer_review_decisions_total",
                 {"decision": "?", "outcome": "malformed_decision"}) == 1
    # upload -> decision timed from the signals record's upload time: once per decision
    # applied or superseded (not the duplicate), all within the minutes sent
    assert value("consumer_review_decision_seconds_count") == 4
    assert 0 < value("consumer_review_decision_seconds_sum") < 4 * 10 * 60
    dead = read_topic(settings, names.dlq, expect=2, timeout_s=30)
    reasons = sorted(dict(m.headers())["vmc.error.reason"] for m in dead)
    assert reasons == [b"malformed_decision", b"unknown_verdict"]

    _check_state(tmp_path / "state.sqlite", records)
    _restarted_and_rebuilt(settings, tmp_path, final_violating)
