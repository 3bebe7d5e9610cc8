"""One crafted event, then a valid one, on a 1-partition topic of the real broker: the consumer
stays up, the valid event gets its verdict, offsets advance past both, and every event that
names a video gets exactly one verdict besides its DLQ copy."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from consumer.logs import kafka_logged
from consumer.settings import KafkaTopics, Settings
from devstack.kafka import DLQ_MAX_MESSAGE_BYTES, create_topics
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    read_topic,
    running_pipeline,
    upload_event,
    wait_committed_to_end,
)

MiB = 1024 * 1024
BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588


def _padded(video_id: str, uri: str, size: int, **fields: Any) -> bytes:
    """An upload event of exactly `size` bytes, padded in metadata with letters that do not
    compress (the broker checks its limit on the compressed batch)."""
    head = json.dumps({"video_id": video_id, "uri": uri, **fields, "metadata": {"pad": ""}})
    pad = "".join(random.Random(size).choices(string.ascii_letters, k=size - len(head)))
    value = head[:-3] + pad + "\"}}"
    assert len(value) == size
    return value.encode()


def _deep(video_id: str, uri: str) -> bytes:
    levels = 1000
    return (json.dumps({"video_id": video_id, "uri": uri})[:-1] + ', "metadata": {"x": '
            + "[" * levels + "]" * levels + "}}").encode()


def _huge_int(video_id: str, uri: str) -> bytes:
    return (json.dumps({"video_id": video_id, "uri": uri})[:-1]
            + ', "metadata": {"n": ' + "7" * 5000 + "}}").encode()


def _naive_time(video_id: str, uri: str) -> bytes:
    return json.dumps({"video_id": video_id, "uri": uri,
                       "uploaded_at": "2026-11-23T00:00:00"}).encode()


def _duplicate_keys(video_id: str, uri: str) -> bytes:
    return (f'{{"video_id": "{video_id}", "uri": "{uri}", "uri": "file:///elsewhere.mp4"}}'
            ).encode()


@dataclass(frozen=True)
class Case:
    make: Callable[[str, str], bytes]
    dlq_reason: str | None  # None: a good event, no DLQ copy
    verdict: str  # the bad event's verdict ("any" for a normal analysis)


CASES = {
    "deep-nesting": Case(_deep, "too_deep", "unprocessable"),
    "5000-digit-integer": Case(_huge_int, "number_too_large", "unprocessable"),
    "naive-uploaded-at": Case(_naive_time, None, "any"),
    "duplicate-keys": Case(_duplicate_keys, "invalid", "unprocessable"),
    "refused-scheme": Case(lambda v, _: upload_event(v, "ftp://example.com/a.mp4"),
                           "unsupported_scheme", "unprocessable"),
    "refused-host": Case(lambda v, _: upload_event(v, "http://169.254.169.254/latest.mp4"),
                         "source_refused", "unprocessable"),
    "unreachable-file": Case(lambda v, _: upload_event(v, "file:///nonexistent/v.mp4"),
                             "source_unreachable", "unprocessable"),
    "event-of-1048577-bytes": Case(
        lambda v, uri: _padded(v, uri, 1_048_577), "too_large", "unprocessable"),
    "1040000-bytes-bad-media": Case(
        lambda v, _: _padded(v, "file:///nonexistent/big.mp4", 1_040_000),
        "source_unreachable", "unprocessable"),
}


def _topics(settings_for: Callable[[KafkaTopics], Settings], unique: str,
            dlq_max_bytes: int) -> Settings:
    names = KafkaTopics(input=f"{unique}.in", verdicts=f"{unique}.verdicts",
                        tags=f"{unique}.tags", dlq=f"{unique}.dlq")
    settings = settings_for(names)
    configs = {names.input: {"max.message.bytes": str(4 * MiB)},
               names.dlq: {"max.message.bytes": str(dlq_max_bytes)}}
    create_topics(settings.kafka.librdkafka_config(),
                  {names.input: 1, names.verdicts: 1, names.tags: 1, names.dlq: 1}, configs)
    return settings


def _produce(settings: Settings, records: list[tuple[str, bytes]]) -> None:
    producer = Producer(kafka_logged({**settings.kafka.librdkafka_config(),
                                      "enable.idempotence": True, "message.max.bytes": 5 * MiB}))
    for key, value in records:
        producer.produce(settings.kafka.topics.input, key=key, value=value)
    assert producer.flush(30) == 0


def _bad_then_good(settings: Settings, unique: str, bad: bytes,
                   good_uri: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """Run the consumer over [bad, good]; its verdicts and DLQ records once both are done."""
    _produce(settings, [("bad", bad), ("good", upload_event("good", good_uri))])
    topics = settings.kafka.topics
    with running_pipeline(settings) as pipeline:
        verdicts = read_topic(settings, topics.verdicts, expect=2, timeout_s=120, settle_s=2)
        wait_committed_to_end(settings, unique, timeout_s=60)
        assert pipeline.inflight() == 0
    dlq = read_topic(settings, topics.dlq, expect=1, timeout_s=10, settle_s=1)
    return [json.loads(m.value()) for m in verdicts], dlq


@pytest.mark.parametrize("name", list(CASES))
def test_a_crafted_event_then_a_valid_one_on_one_partition(
    stack: RunningStack, sample_videos: list[Path], unique: str, name: str,
) -> None:
    case = CASES[name]
    settings = _topics(lambda names: pipeline_settings(stack, names, group=unique), unique,
                       dlq_max_bytes=DLQ_MAX_MESSAGE_BYTES)
    bad = case.make("bad", sample_videos[0].as_uri())
    verdicts, dlq = _bad_then_good(settings, unique, bad, sample_videos[1].as_uri())

    by_video = {r["video_id"]: r for r in verdicts}
    assert len(verdicts) == 2 and set(by_video) == {"bad", "good"}, \
        "exactly one verdict for each event that names a video"
    assert by_video["good"]["verdict"] in ("allow", "review", "block")
    assert sorted(r["source"]["offset"] for r in verdicts) == [0, 1]
    if case.verdict != "any":
        assert by_video["bad"]["verdict"] == case.verdict
        assert by_video["bad"]["reasons"][0]["category"] == case.dlq_reason
    if case.dlq_reason is None:
        assert dlq == []
        assert by_video["bad"]["latency_s"] is not None  # a naive time was read as UTC
        return
    assert len(dlq) == 1
    headers = dict(dlq[0].headers())
    assert headers["vmc.error.reason"].decode() == case.dlq_reason
    assert dlq[0].value() == bad, "the DLQ copy is the original, byte for byte"
    assert dlq[0].key() == b"bad"
    assert "vmc.truncated" not in headers


def test_a_dlq_copy_that_does_not_fit_is_truncated_and_says_so(
    stack: RunningStack, sample_videos: list[Path], unique: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """max_event_bytes above the DLQ topic's limit: start-up warns, the copy keeps its head."""
    settings = _topics(lambda names: pipeline_settings(
        stack, names, group=unique, pipeline={"max_event_bytes": 3 * MiB}), unique,
        dlq_max_bytes=BROKER_DEFAULT_MAX_MESSAGE_BYTES)
    bad = _padded("bad", "file:///nonexistent/huge.mp4", 3 * MiB - 100)
    with caplog.at_level(logging.WARNING, logger="consumer.pipeline"):
        verdicts, dlq = _bad_then_good(settings, unique, bad, sample_videos[1].as_uri())
    assert any("exceeds what can be sent to the DLQ" in r.getMessage() for r in caplog.records)
    _assert_truncated_copy(verdicts, dlq, bad)


def test_a_dlq_copy_refused_by_the_broker_is_sent_again_smaller(
    stack: RunningStack, sample_videos: list[Path], unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without DescribeConfigs the topic's limit is unknown: the broker's refusal is the cue."""
    from consumer import wiring

    monkeypatch.setattr(wiring, "topic_max_message_bytes", lambda *a, **k: None)
    settings = _topics(lambda names: pipeline_settings(
        stack, names, group=unique, pipeline={"max_event_bytes": 3 * MiB}), unique,
        dlq_max_bytes=256 * 1024)
    bad = _padded("bad", "file:///nonexistent/huge.mp4", 3 * MiB - 100)
    verdicts, dlq = _bad_then_good(settings, unique, bad, sample_videos[1].as_uri())
    _assert_truncated_copy(verdicts, dlq, bad)
    assert len(dlq[0].value()) < 256 * 1024


def _assert_truncated_copy(verdicts: list[dict[str, Any]], dlq: list[Any], bad: bytes) -> None:
    assert sorted(r["video_id"] for r in verdicts) == ["bad", "good"]
    assert len(dlq) == 1
    headers = dict(dlq[0].headers())
    assert headers["vmc.truncated"] == b"true"
    assert headers["vmc.original.size"] == str(len(bad)).encode()
    assert headers["vmc.original.sha256"] == hashlib.sha256(bad).hexdigest().encode()
    assert headers["vmc.error.reason"] == b"source_unreachable"
    assert 0 < len(dlq[0].value()) < len(bad)
    assert bad.startswith(dlq[0].value())
