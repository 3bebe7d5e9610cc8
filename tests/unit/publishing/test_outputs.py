"""OutputRecords fits each record to its topic's limit and reports what it cut."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from consumer.events.source import SourceRef
from consumer.observability.metrics import ConsumerMetrics
from consumer.policy.decide import Decision, Reason
from consumer.publishing.dlq import record_bytes, usable_bytes
from consumer.publishing.limits import RecordLimits
from consumer.publishing.outputs import OutputRecords
from consumer.settings import Settings

SRC = SourceRef("video.uploads", 0, 7)
TOPICS = Settings().kafka.topics


def _outputs(limits: RecordLimits, on_truncated: Any = None) -> OutputRecords:
    return OutputRecords(TOPICS, run_id="live", policy_version="p1",
                         model_versions={"nsfw_classifier": "1"}, limits=limits,
                         on_truncated=on_truncated,
                         now=lambda: datetime(2026, 1, 1, tzinfo=UTC))


def _verdict(outputs: OutputRecords, detail: str) -> Any:
    decision = Decision("block", [Reason("known_content_match", None, None, 0.0, "block",
                                         detail, "cases", 0)])
    return outputs.verdict(SRC, "v1", decision, versions={}, uploaded_at=None,
                           keyframes_analyzed=3, duration_s=3.0)


def test_each_topic_gets_records_fitted_to_its_own_limit_and_the_cut_is_reported() -> None:
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry, "video.uploads")
    outputs = _outputs(RecordLimits(verdicts_bytes=1_000_000, tags_bytes=20_000,
                                    dead_letter_bytes=1_000_000), metrics.record_truncated)
    record, content = _verdict(outputs, "label " * 300_000)
    assert json.loads(record.value) == content and content["truncated"] == {"reasons.detail": 1}
    tags = outputs.tags(SRC, content, technical={}, coverage=None, fields={
        "labels": [], "text": [{"text": f"line {i}", "score": 0.9} for i in range(900)]})
    sent = json.loads(tags.value)
    assert record_bytes(tags.key, tags.value, tags.headers) <= usable_bytes(20_000)
    assert sent["verdict_id"] == content["verdict_id"] and sent["truncated"]["text"] > 0
    letter, _ = outputs.dead_letter(SRC, b"x" * 2_000_000, [], stage="parse",
                                    error=ValueError("big"), reason="too_large", video_id="v1")
    assert len(letter.value) < 1_000_000

    def count(kind: str, field: str) -> float | None:
        return registry.get_sample_value("consumer_record_truncations_total",
                                         {"topic_kind": kind, "field": field})
    assert count("verdicts", "reasons.detail") == 1
    assert count("tags", "text") == 1
    assert count("dlq", "value") == 1


def test_a_record_refit_to_a_smaller_limit_is_smaller_and_keeps_the_verdict() -> None:
    outputs = _outputs(RecordLimits.uniform(1_000_000))
    record, content = _verdict(outputs, "é" * 900)
    smaller = record.refit(len(record.value) // 2) if record.refit else None
    assert smaller is not None and len(smaller.value) < len(record.value)
    assert (smaller.topic, smaller.key, smaller.headers) == (record.topic, record.key,
                                                              record.headers)
    sent = json.loads(smaller.value)
    assert sent["verdict"] == "block" and sent["verdict_id"] == content["verdict_id"]
    assert sent["reasons"][0]["category"] == "known_content_match"
