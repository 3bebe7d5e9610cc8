"""The review loop against the real Kafka of the test stack.

The pipeline does not publish signals records on this branch yet (another branch builds
their producer): the decisions test feeds the signals topic itself with records of the
`vmc.signals/1` schema, built from the verdict and tags records of a real pipeline run.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from consumer.cli.decisions import build_loop
from consumer.settings import KafkaTopics, Settings
from devstack.kafka import create_topics, kafka_logged, topic_configs, topic_layout
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    uploads,
)


def _loop_topics(topics: KafkaTopics, unique: str, settings: Settings) -> KafkaTopics:
    names = topics.model_copy(update={"review": f"{unique}.review",
                                      "decisions": f"{unique}.decisions",
                                      "signals": f"{unique}.signals"})
    create_topics(settings.kafka.librdkafka_config(), topic_layout(names), topic_configs(names))
    return names


def _send(settings: Settings, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = Producer(kafka_logged({**settings.kafka.librdkafka_config(),
                                      "enable.idempotence": True}))
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def _signals_of(verdict: dict[str, Any], tags: dict[str, Any]) -> bytes:
    frames = tags.get("frames") or []
    return json.dumps({
        "schema": "vmc.signals/1", "video_id": verdict["video_id"],
        "verdict_id": verdict["verdict_id"], "policy_version": verdict["policy_version"],
        "verdict": verdict["verdict"], "reasons": verdict["reasons"],
        "scores": verdict["scores"], "uploaded_at": "2026-11-23T09:00:00Z",
        "decided_at": verdict["processed_at"], "source": verdict["source"],
        "duration_s": verdict["duration_s"], "coverage": verdict.get("coverage"),
        "keyframes_analyzed": verdict["keyframes_analyzed"],
        "frames": {"at_s": [f["at_s"] for f in frames], "pdq": [f["pdq"] for f in frames],
                   "quality": [f["quality"] for f in frames], "mirror_pdq": [],
                   "full_pdq": []},
        "model_scores": {}, "texts": {}, "matched": {}, "inference_error": None,
        "given_up": {}, "technical": tags.get("technical", {}), "model_versions": {}}).encode()


def test_review_tasks_for_the_audit_sample_then_decisions_bank_apply_once_and_dlq(
        stack: RunningStack, topics: KafkaTopics, unique: str, sample_videos: list[Path],
        stack_settings: Settings, tmp_path: Path) -> None:
    names = _loop_topics(topics, unique, stack_settings)
    settings = pipeline_settings(stack, names, f"{unique}-g",
                                 review={"audit_allow_rate": 1.0, "audit_block_rate": 1.0,
                                         "confirmed_bank": str(tmp_path / "confirmed"),
                                         "state_path": str(tmp_path / "state.sqlite"),
                                         "decisions_group_id": f"{unique}-decisions",
                                         "unknown_verdict_wait_s": 20})
    produce(settings, uploads(sample_videos, 3))
    with running_pipeline(settings):
        verdicts = read_topic(settings, names.verdicts, expect=3, timeout_s=180)
        tasks = read_topic(settings, names.review, expect=3, timeout_s=60)
    by_video = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}
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
    tags = {json.loads(m.value())["video_id"]: json.loads(m.value())
            for m in read_topic(settings, names.tags, expect=3)}

    # the signals topic, fed from the run's records; then decisions, replayed and reordered
    _send(settings, names.signals, [(v, _signals_of(by_video[v], tags[v])) for v in by_video])
    v0 = by_video["v0"]

    def decision(kind: str, minute: int, video: dict[str, Any] = v0) -> tuple[str, bytes]:
        return video["video_id"], json.dumps({
            "video_id": video["video_id"], "verdict_id": video["verdict_id"],
            "decision": kind, "categories": ["nsfw"], "reviewer": "r1",
            "time": f"2026-11-23T10:{minute:02d}:00Z"}).encode()

    late_violating, newest_clear, final_violating = (decision("violating", 1),
                                                     decision("not_violating", 5),
                                                     decision("violating", 9))
    _send(settings, names.decisions, [
        final_violating, late_violating, newest_clear, final_violating,  # reordered + replayed
        decision("violating", 2, by_video["v1"]),
        ("v9", b"{not json"),
        ("v9", json.dumps({"video_id": "v9", "verdict_id": "nope", "decision": "violating",
                           "reviewer": "r1", "time": "2026-11-23T10:00:00Z"}).encode())])

    registry = CollectorRegistry()
    with contextlib.ExitStack() as stack_:
        loop = build_loop(settings, stack_, registry)
        thread = threading.Thread(target=loop.run, kwargs={"refresh_s": 0.1}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 90
        value = registry.get_sample_value
        while time.monotonic() < deadline and (
                value("consumer_review_decisions_total",
                      {"decision": "violating", "outcome": "unknown_verdict"}) or 0) < 1:
            time.sleep(0.5)
        time.sleep(1)
        loop.stopping.set()
        thread.join(30)
        assert not thread.is_alive()
    confirmed = sorted(p.name for p in (tmp_path / "confirmed").iterdir())
    assert confirmed == ["v0.txt", "v1.txt"]  # v0's latest (10:09) is violating
    pdq = [f["pdq"] for f in tags["v0"]["frames"]]
    assert all(h in (tmp_path / "confirmed" / "v0.txt").read_text() for h in pdq)
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
    dead = read_topic(settings, names.dlq, expect=2, timeout_s=30)
    reasons = sorted(dict(m.headers())["vmc.error.reason"] for m in dead)
    assert reasons == [b"malformed_decision", b"unknown_verdict"]
