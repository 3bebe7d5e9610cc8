"""The decisions loop with test doubles for Kafka: DLQ cases, waiting for signals, metrics."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumer.errors import PublishError
from consumer.observability.review_metrics import DecisionMetrics
from consumer.review.loop import DecisionsLoop
from consumer.review.state import StateStore
from consumer.review_settings import ReviewSettings

PDQ = "f" * 64


class Msg:
    def __init__(self, topic: str, offset: int, value: bytes | None) -> None:
        self._t, self._o, self._v = topic, offset, value

    def topic(self) -> str: return self._t
    def partition(self) -> int: return 0
    def offset(self) -> int: return self._o
    def value(self) -> bytes | None: return self._v
    def key(self) -> bytes: return b"v1"
    def headers(self) -> list[tuple[str, bytes]]: return []
    def error(self) -> None: return None


class FakeConsumer:
    def __init__(self) -> None:
        self.paused: list[Any] = []
        self.signals_end = 0

    def pause(self, parts: list[Any]) -> None: self.paused = parts
    def resume(self, parts: list[Any]) -> None: self.paused = []
    def seek(self, part: Any) -> None: ...
    def assignment(self) -> list[Any]: return [SimpleNamespace(topic="decisions", partition=0)]

    def list_topics(self, topic: str | None = None, timeout: float = 0) -> Any:
        return SimpleNamespace(topics={"signals": SimpleNamespace(partitions={0: None})})

    def get_watermark_offsets(self, part: Any, timeout: float = 0) -> tuple[int, int]:
        return 0, self.signals_end


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, dict[str, bytes]]] = []
        self.broken = False  # the broker refuses every record

    def produce(self, topic: str, value: bytes | None, key: bytes, headers: Any,
                on_delivery: Any = None) -> None:
        if not self.broken:
            self.sent.append((topic, value, {k: v for k, v in headers}))
        if on_delivery is not None:
            on_delivery("broker refused" if self.broken else None, None)

    def flush(self, timeout: float) -> int: return 0


def _loop(tmp_path: Path) -> tuple[DecisionsLoop, FakeConsumer, FakeProducer, list[float],
                                   CollectorRegistry]:
    clock = [0.0]
    registry = CollectorRegistry()
    metrics = DecisionMetrics(registry, {"nsfw": {"review": 0.5, "block": 0.8}}, 0.9)
    settings = ReviewSettings(confirmed_bank=str(tmp_path / "confirmed"),
                              unknown_verdict_wait_s=30)
    consumer, producer = FakeConsumer(), FakeProducer()
    loop = DecisionsLoop(consumer, producer, StateStore(tmp_path / "s.sqlite"), settings,
                         signals_topic="signals", decisions_topic="decisions", dlq_topic="dlq",
                         served_banks={}, observer=metrics, clock=lambda: clock[0])
    return loop, consumer, producer, clock, registry


def _signals(offset: int) -> Msg:
    return Msg("signals", offset, json.dumps({
        "schema": "vmc.signals/1", "video_id": "v1", "verdict_id": "v1id", "verdict": "block",
        "reasons": [], "scores": {"nsfw": 0.9}, "uploaded_at": "2026-01-02T09:00:00Z",
        "frames": {"at_s": [0.0, 0.5], "pdq": [PDQ, PDQ], "quality": [90, 80]}}).encode())


DECISION = json.dumps({"video_id": "v1", "verdict_id": "v1id", "decision": "violating",
                       "categories": ["nsfw"], "reviewer": "r1",
                       "time": "2026-01-02T10:00:00Z"}).encode()


def test_malformed_decision_goes_to_the_dlq_with_its_reason(tmp_path: Path) -> None:
    loop, _, producer, _, _ = _loop(tmp_path)
    loop.handle(Msg("decisions", 0, b"{oops"))
    topic, value, headers = producer.sent[0]
    assert topic == "dlq" and value == b"{oops"
    assert headers["vmc.error.reason"] == b"malformed_decision"
    assert loop.store.position("decisions", 0) == 1


def test_decision_before_its_signals_waits_then_applies_once(tmp_path: Path) -> None:
    loop, consumer, producer, _, registry = _loop(tmp_path)
    consumer.signals_end = 1  # the signals record is on the topic, not read yet
    loop.handle(Msg("decisions", 0, DECISION))
    assert loop.waiting is not None and consumer.paused
    loop.handle(Msg("decisions", 1, DECISION))  # prefetched: held until the wait ends
    loop._resolve_waiting()
    assert loop.waiting is not None  # still waiting: nothing read, not timed out
    loop.handle(_signals(0))
    loop._resolve_waiting()
    assert loop.waiting is None and not consumer.paused and not producer.sent
    assert (tmp_path / "confirmed" / "v1.txt").read_text().count(PDQ) == 2
    assert loop.store.position("decisions", 0) == 2  # the held copy handled after it
    loop.observer.refresh(loop.store)
    value = registry.get_sample_value
    assert value("consumer_review_decisions_total", {"decision": "violating",
                                                     "outcome": "applied"}) == 1
    assert value("consumer_review_decisions_total", {"decision": "violating",
                                                     "outcome": "duplicate"}) == 1
    assert value("consumer_review_precision_ratio", {"category": "nsfw",
                                                     "threshold": "block"}) == 1.0
    assert value("consumer_review_decided_verdicts", {"category": "nsfw", "band": "0.9-1.0",
                                                      "decision": "violating"}) == 1
    assert value("consumer_review_decision_seconds_count") == 1
    assert value("consumer_review_overturn_ratio") == 0.0


def test_decision_on_a_verdict_never_published_goes_to_the_dlq(tmp_path: Path) -> None:
    loop, consumer, producer, clock, _ = _loop(tmp_path)
    consumer.signals_end = 0  # the signals topic is read to its end already
    loop.handle(Msg("decisions", 0, DECISION))
    loop._resolve_waiting()
    assert producer.sent[0][2]["vmc.error.reason"] == b"unknown_verdict"
    assert b"v1id" in producer.sent[0][2]["vmc.error.message"]
    # and one that waits for a signals end never reached times out into the DLQ
    consumer.signals_end = 5
    loop.handle(Msg("decisions", 1, DECISION))
    loop.handle(Msg("decisions", 2, b"{bad"))  # held behind the waiting one, in order
    loop._resolve_waiting()
    assert len(producer.sent) == 1
    clock[0] = 31
    loop._resolve_waiting()
    assert [h["vmc.error.reason"] for _, _, h in producer.sent[1:]] == [
        b"unknown_verdict", b"malformed_decision"]
    assert loop.store.position("decisions", 0) == 3 and not consumer.paused


class Eof(Msg):
    """The consumer's partition-EOF event: where the partition ends now."""

    def error(self) -> Any:
        from confluent_kafka import KafkaError

        return KafkaError(KafkaError._PARTITION_EOF)


def test_a_dlq_record_not_delivered_stops_before_the_decision_is_passed_over(
        tmp_path: Path) -> None:
    loop, _, producer, _, _ = _loop(tmp_path)
    producer.broken = True
    with pytest.raises(PublishError, match="not delivered"):
        loop.handle(Msg("decisions", 0, b"{oops"))
    assert loop.store.position("decisions", 0) is None  # read again at restart


def test_a_signals_record_with_a_null_or_odd_field_is_skipped_not_a_crash(
        tmp_path: Path) -> None:
    loop, _, _, _, _ = _loop(tmp_path)
    for offset, bad in enumerate([{"video_id": None}, {"verdict": {"x": 1}}, {"video_id": [1]}]):
        record = {"schema": "vmc.signals/1", "video_id": "v1", "verdict_id": f"id{offset}",
                  "verdict": "allow", **bad}
        loop.handle(Msg("signals", offset, json.dumps(record).encode()))
    assert loop.store.position("signals", 0) == 3 and list(loop.store.verdicts()) == []


def test_nothing_to_bank_still_counts_the_decision_and_says_why(tmp_path: Path) -> None:
    loop, _, producer, _, registry = _loop(tmp_path)
    record = json.loads(_signals(0).value() or b"")
    record["frames"] = {"at_s": [], "pdq": [], "quality": []}  # hashes cut to fit the topic
    loop.handle(Msg("signals", 0, json.dumps(record).encode()))
    loop.handle(Msg("decisions", 0, DECISION))
    assert not producer.sent and not (tmp_path / "confirmed").exists()
    assert registry.get_sample_value("consumer_review_decisions_total",
                                     {"decision": "violating", "outcome": "applied"}) == 1
    assert registry.get_sample_value("consumer_review_bank_misses_total",
                                     {"reason": "nothing_to_bank"}) == 1


def test_the_signals_end_seen_past_transaction_markers_ends_the_wait(tmp_path: Path) -> None:
    """exactly_once outputs end in commit markers, never delivered: the partition's EOF
    event says the topic was read to its end, so an unknown verdict goes to the DLQ at once
    instead of after the whole wait."""
    loop, consumer, producer, _, _ = _loop(tmp_path)
    consumer.signals_end = 2  # one record and its commit marker
    loop.handle(_signals(0))
    unknown = DECISION.replace(b'"v1id"', b'"nope"')
    loop.handle(Msg("decisions", 0, unknown))
    loop._resolve_waiting()
    assert loop.waiting is not None, "record 0 read, offset 1 (the marker) not"
    loop._error(Eof("signals", 2, None))
    loop._resolve_waiting()
    assert loop.waiting is None
    assert producer.sent[0][2]["vmc.error.reason"] == b"unknown_verdict"
