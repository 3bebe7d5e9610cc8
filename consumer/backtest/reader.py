"""Reading a fixed range of a topic (the backtest's edge to Kafka): from the first offset
stamped at or after `from_ms` to the first stamped at or after `to_ms` (or the end offsets as
they are at the start), on every partition or the ones named. No consumer group is joined and
no offset committed: a backtest leaves the cluster as it found it. Kafka errors become
`OffsetsError` naming the topic."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consumer.pipeline import group_offsets
from consumer.pipeline.group_offsets import OffsetsError
from consumer.pipeline.kafka_clients import client_config
from consumer.settings import KafkaSettings

BATCH = 2000
POLL_S = 1.0
MAX_IDLE_POLLS = 30  # no message for this long on a range not yet read: the broker is gone


@dataclass(frozen=True)
class Read:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    timestamp_ms: int


def plan(kafka: KafkaSettings, topic: str, *, from_ms: int = 0, to_ms: int | None = None,
         partitions: Sequence[int] | None = None) -> dict[int, tuple[int, int]]:
    """partition -> [start, end) offsets."""
    parts = group_offsets.topic_partitions(kafka, topic, partitions)
    starts = group_offsets.offsets_at(kafka, topic, parts, from_ms)
    if to_ms is not None:
        ends = group_offsets.offsets_at(kafka, topic, parts, to_ms)
    else:
        ends = {p.partition: p.end for p in group_offsets.positions(
            kafka, "vmc-backtest", topic, parts)}
    return {p: (starts[p], ends[p]) for p in parts}


def read(kafka: KafkaSettings, topic: str, ranges: Mapping[int, tuple[int, int]]
         ) -> Iterator[Read]:
    """Every record in the ranges, partition by partition interleaved as the broker serves."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    todo = {p: end for p, (start, end) in ranges.items() if end > start}
    if not todo:
        return
    # Partition EOF ends a partition whose last offsets are transaction markers (exactly_once
    # outputs): markers are never delivered, so no record reaches `end - 1` there.
    consumer = Consumer({**client_config(kafka), "group.id": "vmc-backtest",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, p, ranges[p][0]) for p in todo])
        idle = 0
        while todo:
            batch = consumer.consume(BATCH, POLL_S)
            idle = 0 if batch else idle + 1
            if idle > MAX_IDLE_POLLS:
                raise OffsetsError(f"{topic}: no record for {MAX_IDLE_POLLS * POLL_S:.0f} s "
                                   f"with partitions {sorted(todo)} unfinished")
            for message in batch:
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    if (message.offset() or 0) >= todo.get(message.partition() or 0, 0):
                        todo.pop(message.partition() or 0, None)
                    continue
                if error is not None:
                    raise OffsetsError(f"{topic}[{message.partition()}]: {error}")
                partition, offset = message.partition() or 0, message.offset() or 0
                end = todo.get(partition)
                if end is None or offset >= end:
                    continue
                yield Read(message.key(), message.value(), partition, offset,
                           message.timestamp()[1])
                if offset + 1 >= end:
                    del todo[partition]
    finally:
        consumer.close()


def latest_decisions(kafka: KafkaSettings, topic: str) -> dict[str, str]:
    """video id -> its latest reviewer decision (`violating` | `not_violating`) on the
    decisions topic, by the decisions consumer's own reading (`parse_decision`) and order
    (decision time, then decision id). Malformed decisions are not this command's to judge
    (the decisions consumer sends them to the DLQ): they are left out."""
    from consumer.review.decisions import DecisionError, parse_decision

    best: dict[str, Any] = {}
    for item in read(kafka, topic, plan(kafka, topic)):
        try:
            decision = parse_decision(item.value)
        except DecisionError:
            continue
        held = best.get(decision.video_id)
        if held is None or (decision.time, decision.decision_id) >= (held.time,
                                                                     held.decision_id):
            best[decision.video_id] = decision
    return {video: d.decision for video, d in best.items()}
