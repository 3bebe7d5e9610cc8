"""In-memory Kafka for unit tests of the spine: a broker with a consumer and a producer, and
a clock that moves only when the loop waits.

Kafka's values (Message, TopicPartition, KafkaError, KafkaException) are confluent-kafka's
own; what is faked is the network. Rebalances arrive inside poll/consume, as with librdkafka,
and a poll that finds nothing advances the clock by its timeout, so commit intervals, batch
deadlines and breaker resets pass as they would, in no wall-clock time.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from consumer.settings import Settings

_TOPICS = Settings().kafka.topics
TOPIC = _TOPICS.input
SHORT = {"verdicts": _TOPICS.verdicts, "tags": _TOPICS.tags, "dlq": _TOPICS.dlq,
         "signals": _TOPICS.signals, "review": _TOPICS.review}
TP = tuple[str, int]


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@dataclass
class Output:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    def json(self) -> dict[str, Any]:
        return json.loads(self.value)  # type: ignore[no-any-return]

    def header(self, name: str) -> bytes | None:
        return dict(self.headers).get(name)


@dataclass
class Broker:
    """Topics' logs, the group's committed offsets, and what reached the output topics."""

    partitions: int = 2
    logs: dict[int, list[Message]] = field(default_factory=dict)
    committed: dict[TP, int] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    topics: set[str] = field(default_factory=lambda: {TOPIC, *SHORT.values()})

    def append(self, value: bytes, partition: int = 0, *, timestamp_ms: int = 1_000,
               headers: list[tuple[str, bytes]] | None = None) -> int:
        log = self.logs.setdefault(partition, [])
        offset = len(log)
        log.append(Message(topic=TOPIC, partition=partition, offset=offset, value=value,
                           headers=headers or [], timestamp=(1, timestamp_ms)))
        return offset

    def event(self, video_id: str, uri: str | None = None, partition: int = 0,
              **kwargs: Any) -> int:
        body = {"video_id": video_id, "uri": uri or f"https://videos.example/{video_id}.mp4"}
        return self.append(json.dumps(body).encode(), partition, **kwargs)

    def on(self, topic: str) -> list[Output]:
        """Outputs on one topic: "verdicts", "tags" or "dlq"."""
        return [o for o in self.outputs if o.topic == SHORT[topic]]

    def verdicts(self) -> dict[str, list[str]]:
        """video id -> the verdicts published for it, in order."""
        out: dict[str, list[str]] = {}
        for record in self.on("verdicts"):
            body = record.json()
            out.setdefault(body["video_id"], []).append(body["verdict"])
        return out


class FakeConsumer:
    """One group member. `revoke`, `lose` and `assign_more` schedule a rebalance that the next
    poll or consume delivers through the callbacks, as librdkafka does."""

    def __init__(self, broker: Broker, clock: Clock) -> None:
        self.broker = broker
        self.clock = clock
        self.callbacks: dict[str, Callable[[Any, list[TopicPartition]], None]] = {}
        self.assignment: set[TP] = set()
        self.position: dict[TP, int] = {}
        self.paused: set[TP] = set()
        self.rebalances: deque[tuple[str, list[TP]]] = deque()
        self.commit_failures = 0
        self.commits: list[dict[TP, int]] = []
        self.closed = False

    # --- what the pipeline calls
    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None,
                  on_lost: Any = None) -> None:
        self.callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}
        self.rebalances.append(("assign", [(TOPIC, p) for p in range(self.broker.partitions)]))

    def assign(self, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            tp = (p.topic, p.partition)
            self.assignment.add(tp)
            self.position[tp] = p.offset if p.offset >= 0 else self.broker.committed.get(tp, 0)

    def poll(self, timeout: float = -1) -> Message | None:
        messages = self.consume(1, timeout)
        return messages[0] if messages else None

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self._serve_rebalances()
        out: list[Message] = []
        for tp in sorted(self.assignment - self.paused):
            log = self.broker.logs.get(tp[1], [])
            while len(out) < num_messages and self.position[tp] < len(log):
                out.append(log[self.position[tp]])
                self.position[tp] += 1
        if not out:
            self.clock.advance(timeout)
        return out

    def commit(self, *, offsets: list[TopicPartition],
               asynchronous: bool = True) -> list[TopicPartition]:
        if self.commit_failures:
            self.commit_failures -= 1
            raise KafkaException(KafkaError(KafkaError.REQUEST_TIMED_OUT, "commit timed out",
                                            retriable=True))
        positions = {(p.topic, p.partition): p.offset for p in offsets}
        self.broker.committed.update(positions)
        self.commits.append(positions)
        return offsets

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(p.topic, p.partition) for p in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {(p.topic, p.partition) for p in partitions}

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        return SimpleNamespace(topics={t: SimpleNamespace(error=None) for t in self.broker.topics})

    def consumer_group_metadata(self) -> Any:
        return self  # the producer commits transactional offsets through it

    def close(self) -> None:
        self.closed = True

    # --- what tests call
    def revoke(self, partitions: Sequence[int]) -> None:
        self.rebalances.append(("revoke", [(TOPIC, p) for p in partitions]))

    def lose(self, partitions: Sequence[int]) -> None:
        self.rebalances.append(("lost", [(TOPIC, p) for p in partitions]))

    def assign_more(self, partitions: Sequence[int]) -> None:
        self.rebalances.append(("assign", [(TOPIC, p) for p in partitions]))

    def _serve_rebalances(self) -> None:
        while self.rebalances:
            kind, tps = self.rebalances.popleft()
            kafka_tps = [TopicPartition(t, p) for t, p in tps]
            if kind == "assign":
                self.assign(kafka_tps)
                self.paused -= set(tps)  # a new assignment starts unpaused
            callback = self.callbacks.get(kind)
            if callback is not None:
                callback(self, kafka_tps)
            if kind != "assign":
                self.assignment -= set(tps)
                self.paused -= set(tps)


class FakeProducer:
    """Delivery reports are served by poll/flush; transactions land outputs and offsets
    together on commit. Failures are queued per call by the tests."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.queued: list[tuple[Output, Any]] = []
        self.refuse: dict[str, KafkaError] = {}  # "verdicts"/"tags"/"dlq" -> delivery error
        self.max_bytes: dict[str, int] = {}  # "verdicts"/"tags"/"dlq" -> broker's size limit
        self.produce_error: KafkaException | None = None
        self.in_txn = False
        self.txn_outputs: list[Output] = []
        self.txn_offsets: dict[TP, int] = {}
        self.begun = 0
        self.aborted = 0
        self.send_offsets_failures: deque[KafkaError] = deque()
        self.commit_failures: deque[KafkaError] = deque()

    def produce(self, topic: str, *, value: bytes | None = None, key: bytes | None = None,
                on_delivery: Any = None, headers: Any = None) -> None:
        if self.produce_error is not None:
            raise self.produce_error
        output = Output(topic, key, value or b"", list(headers or []))
        if self.in_txn:
            self.txn_outputs.append(output)
        else:
            self.queued.append((output, on_delivery))

    def poll(self, timeout: float = -1) -> int:
        served, self.queued = self.queued, []
        for output, callback in served:
            short = next(k for k, v in SHORT.items() if v == output.topic)
            error = self.refuse.get(short)
            size = len(output.value) + sum(len(v) for _, v in output.headers)
            if short in self.max_bytes and size > self.max_bytes[short]:
                error = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "too large")
            if error is None:
                self.broker.outputs.append(output)
            message = Message(topic=output.topic, key=output.key, value=output.value,
                              headers=output.headers)
            if callback is not None:
                callback(error, message)
        return len(served)

    def flush(self, timeout: float = -1) -> int:
        self.poll(0)
        return 0

    def init_transactions(self, timeout: float = -1) -> None:
        pass

    def begin_transaction(self) -> None:
        assert not self.in_txn, "begin_transaction inside an open transaction"
        self.in_txn = True
        self.begun += 1
        self.txn_outputs, self.txn_offsets = [], {}

    def send_offsets_to_transaction(self, positions: list[TopicPartition], group_metadata: Any,
                                    timeout: float = -1) -> None:
        if self.send_offsets_failures:
            raise KafkaException(self.send_offsets_failures.popleft())
        self.txn_offsets = {(p.topic, p.partition): p.offset for p in positions}

    def commit_transaction(self, timeout: float = -1) -> None:
        assert self.in_txn, "commit without a transaction"
        if self.commit_failures:
            raise KafkaException(self.commit_failures.popleft())
        self.broker.outputs += self.txn_outputs
        self.broker.committed.update(self.txn_offsets)
        self.in_txn = False

    def abort_transaction(self, timeout: float = -1) -> None:
        self.in_txn = False
        self.aborted += 1
        self.txn_outputs, self.txn_offsets = [], {}
