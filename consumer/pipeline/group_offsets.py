"""Offsets of consumer groups, read and reset through the real broker (the replay and
`vmc offsets` edge). Kafka errors become `OffsetsError` with the group and topic named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consumer.errors import ConsumerError
from consumer.pipeline.kafka_clients import client_config
from consumer.settings import KafkaSettings

TIMEOUT_S = 15.0


class OffsetsError(ConsumerError):
    """Offsets could not be read or reset (unknown topic or partition, active group, ...)."""


@dataclass(frozen=True)
class PartitionPosition:
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed if self.committed is not None else 0)


def _consumer(kafka: KafkaSettings, group: str) -> Any:
    from confluent_kafka import Consumer

    return Consumer({**client_config(kafka), "group.id": group,
                     "enable.auto.commit": False, "isolation.level": "read_committed"})


def topic_partitions(kafka: KafkaSettings, topic: str,
                     wanted: Sequence[int] | None = None) -> list[int]:
    consumer = _consumer(kafka, "vmc-offsets-metadata")
    try:
        meta = consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
    finally:
        consumer.close()
    if meta is None or meta.error is not None:
        raise OffsetsError(f"topic {topic!r} not found or not authorised")
    partitions = sorted(meta.partitions)
    if wanted is None:
        return partitions
    unknown = sorted(set(wanted) - set(partitions))
    if unknown:
        raise OffsetsError(f"{topic} has no partition {unknown} (it has {partitions})")
    return sorted(set(wanted))


def positions(kafka: KafkaSettings, group: str, topic: str,
              partitions: Sequence[int] | None = None) -> list[PartitionPosition]:
    """Committed and end offsets of `group` on `topic`, per partition."""
    from confluent_kafka import TopicPartition

    parts = topic_partitions(kafka, topic, partitions)
    consumer = _consumer(kafka, group)
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in parts],
                                       timeout=TIMEOUT_S)
        out = []
        for tp in committed:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition),
                                                     timeout=TIMEOUT_S)
            out.append(PartitionPosition(tp.partition, tp.offset if tp.offset >= 0 else None,
                                         high))
    finally:
        consumer.close()
    return out


def offsets_at(kafka: KafkaSettings, topic: str, partitions: Sequence[int],
               timestamp_ms: int) -> dict[int, int]:
    """The first offset at or after `timestamp_ms` per partition (the end if there is none)."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(kafka, "vmc-offsets-lookup")
    try:
        found = consumer.offsets_for_times(
            [TopicPartition(topic, p, timestamp_ms) for p in partitions], timeout=TIMEOUT_S)
        out = {}
        for tp in found:
            if tp.error is not None:
                raise OffsetsError(f"{topic}[{tp.partition}]: {tp.error}")
            if tp.offset < 0:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition),
                                                         timeout=TIMEOUT_S)
                out[tp.partition] = high
            else:
                out[tp.partition] = tp.offset
    finally:
        consumer.close()
    return out


def active_members(kafka: KafkaSettings, group: str) -> int:
    """Members currently in `group` (0 for an empty or unknown group)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(kafka))
    future = admin.describe_consumer_groups([group])[group]
    try:
        description = future.result(TIMEOUT_S)
    except Exception as exc:
        raise OffsetsError(f"cannot describe group {group!r}: {exc}") from exc
    return len(description.members)


def reset(kafka: KafkaSettings, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Set `group`'s committed offsets; the broker refuses while the group has members."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(kafka))
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p, o) for p, o in sorted(offsets.items())])
    future = admin.alter_consumer_group_offsets([request])[group]
    try:
        result = future.result(TIMEOUT_S)
    except Exception as exc:
        raise OffsetsError(f"cannot reset group {group!r}: {exc}") from exc
    failed = [tp for tp in result.topic_partitions if tp.error is not None]
    if failed:
        raise OffsetsError(f"reset of {group!r} failed for {failed}")
