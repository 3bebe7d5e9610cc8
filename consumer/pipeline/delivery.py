"""How a finished event's outputs and its offset reach Kafka: at-least-once or exactly-once.

Both modes sit behind one small interface, so the loop never asks which one it runs:
- `AtLeastOnce` produces each record at once and counts the broker's acknowledgements; an
  event is settled when all its records are acknowledged, and the watermark (the lowest
  unsettled offset) is committed on the consumer every `commit_interval_s`.
- `ExactlyOnce` holds finished records; every `commit_interval_s` one transaction produces
  the finished contiguous prefix and sends its offsets. A commit that was not confirmed is
  retried as it is (never a new transaction with the same records); an abort keeps the
  records for the next transaction.
Our own output failing to reach Kafka is never skipped: `fatal` is set and the loop stops.
One exception: a record refused as too large (a topic limit below what start-up read) is fitted
again to half its size and resent, a few times, in both modes: a verdict is never dropped for
its size, and only one that cannot be cut further stops the loop.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaTP

from consumer.errors import PublishError
from consumer.events import SourceRef
from consumer.pipeline.completions import Delivered
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.jobs import Jobs, VideoJob
from consumer.pipeline.ports import KafkaConsumer, KafkaProducer, message_headers
from consumer.pipeline.watermarks import TopicPartition, Watermarks
from consumer.publishing.dlq import fit_dead_letter, record_bytes
from consumer.publishing.outputs import Record

log = logging.getLogger("consumer.pipeline")

MAX_DEAD_LETTER_SHRINKS = 6
MAX_RECORD_SHRINKS = 10  # halvings: from the largest record down to a minimal verdict
TOO_LARGE = (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE)
KAFKA_CALL_TIMEOUT_S = 30
FLUSH_TIMEOUT_S = 10
Positions = dict[TopicPartition, int]


class Delivery(Protocol):
    """What the loop needs from a delivery mode."""

    fatal: PublishError | None

    def begin(self) -> None:
        """Once, before the first event."""

    def publish(self, job: VideoJob, records: Sequence[Record]) -> None:
        """Take one finished event's outputs; the event is settled when they are delivered."""

    def poll(self) -> None:
        """Serve the producer's callbacks and apply what they report."""

    def commit(self, *, force: bool = False) -> None:
        """Commit settled positions, at most every `commit_interval_s` unless forced."""

    def release(self, tps: Collection[TopicPartition]) -> None:
        """Partitions leave in a rebalance: commit what is final for them, forget the rest."""

    def drop(self, tps: Collection[TopicPartition]) -> None:
        """Partitions are gone: discard their undelivered outputs."""

    def close(self) -> None:
        """Shutdown: deliver what is pending and commit it."""

    def awaiting(self) -> int:
        """Finished events whose offsets are not committed yet (held for a transaction)."""


@dataclass(frozen=True)
class DeliveryContext:
    """What both modes work with: the Kafka clients, the offsets and the jobs in flight."""

    consumer: KafkaConsumer
    producer: KafkaProducer
    watermarks: Watermarks
    jobs: Jobs
    assigned: Callable[[], Collection[TopicPartition]]  # commits only for partitions we own
    dlq_topic: str
    commit_interval_s: float
    clock: Callable[[], float]
    hooks: PipelineHooks


def delivery_for(mode: str, ctx: DeliveryContext) -> Delivery:
    """The one place the delivery mode is chosen."""
    return ExactlyOnce(ctx) if mode == "exactly_once" else AtLeastOnce(ctx)


class _Base:
    def __init__(self, ctx: DeliveryContext) -> None:
        self.ctx = ctx
        self.consumer = ctx.consumer
        self.producer = ctx.producer
        self.watermarks = ctx.watermarks
        self.jobs = ctx.jobs
        self.fatal: PublishError | None = None
        self._last_commit = float("-inf")

    def _due(self, force: bool) -> bool:
        now = self.ctx.clock()
        if not force and now - self._last_commit < self.ctx.commit_interval_s:
            return False
        self._last_commit = now
        return True

    def _positions(self) -> Positions:
        assigned = self.ctx.assigned()
        return {tp: pos for tp, pos in self.watermarks.to_commit().items() if tp in assigned}

    def _produce(self, record: Record,
                 on_delivery: Callable[[KafkaError | None, Message], None]) -> None:
        shrinks = 0
        while self.fatal is None:
            try:
                self.producer.produce(record.topic, key=record.key, value=record.value,
                                      headers=[*record.headers], on_delivery=on_delivery)
                return
            except BufferError:
                self.producer.poll(0.1)  # local queue full: serve deliveries, then retry
            except KafkaException as exc:  # our own output refused: stop, never skip it
                smaller = smaller_record(record, exc.args[0], shrinks)
                if smaller is not None:  # too large for the producer: cut it, try again
                    record, shrinks = smaller, shrinks + 1
                    continue
                self.fatal = PublishError(f"cannot produce to {record.topic}: {exc.args[0]}")
                self.ctx.hooks.failure("publish", "produce")


def smaller_record(record: Record, error: KafkaError | None, shrinks: int) -> Record | None:
    """The record fitted to half its size, when `error` refused it as too large and it can
    still be cut; None otherwise (then the caller stops, never skips it)."""
    if record.refit is None or error is None or error.code() not in TOO_LARGE or \
            shrinks >= MAX_RECORD_SHRINKS:
        return None
    sent = record_bytes(record.key, record.value, record.headers)
    smaller = record.refit(max(1, sent // 2))
    if len(smaller.value) >= len(record.value):
        return None
    log.warning("%s refused a record of %d bytes (%s): sending it cut to %d bytes",
                record.topic, len(record.value), error.name(), len(smaller.value))
    return smaller


class AtLeastOnce(_Base):
    """Produce now, settle on acknowledgement, commit the watermark on the consumer."""

    def __init__(self, ctx: DeliveryContext) -> None:
        super().__init__(ctx)
        self._reports: deque[tuple[Delivered, Record, int]] = deque()

    def begin(self) -> None:
        pass

    def publish(self, job: VideoJob, records: Sequence[Record]) -> None:
        job.acks_left = len(records)
        for record in records:
            self._send(job.job_id, record)

    def _send(self, job_id: int, record: Record, shrinks: int = 0) -> None:
        # Reports arrive inside producer.poll/flush; queue them, apply them after the call.
        self._produce(record, lambda err, msg: self._reports.append(
            (Delivered(job_id, err, msg), record, shrinks)))

    def poll(self) -> None:
        self.producer.poll(0)
        self._settle()

    def _settle(self) -> None:
        while self._reports:
            self._delivered(*self._reports.popleft())

    def _delivered(self, report: Delivered, record: Record, shrinks: int) -> None:
        job = self.jobs.get(report.job_id)
        if report.error is not None:
            if job is not None and self._refit(job, report, record, shrinks):
                return
            if job is not None and self._refit_dead_letter(job, report):
                return
            error = report.error
            topic = report.message.topic() if report.message is not None else "?"
            self.fatal = PublishError(
                f"delivery to {topic} failed for {job.source if job else report.job_id}: "
                f"{error.name()}: {error}")
            self.ctx.hooks.failure("publish", "delivery")
            return
        if job is None:  # its partition was revoked meanwhile
            return
        job.acks_left -= 1
        if job.acks_left == 0:
            self.watermarks.done(job.tp, job.source.offset)
            self.jobs.forget(job)

    def _refit(self, job: VideoJob, report: Delivered, record: Record, shrinks: int) -> bool:
        """The broker refused a verdict or tags record as too large (its topic's limit is
        below what start-up read): send it again, fitted to half the size."""
        smaller = smaller_record(record, report.error, shrinks)
        if smaller is None:
            return False
        log.warning("%s: %s record refused as too large, resent cut", job.source, record.topic)
        self._send(job.job_id, smaller, shrinks + 1)
        return True

    def _refit_dead_letter(self, job: VideoJob, report: Delivered) -> bool:
        """The broker refused a DLQ copy as too large (its topic limit is below ours): send
        it again, cut to half the size, a few times before giving up."""
        msg, error = report.message, report.error
        too_large = (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE)
        if msg is None or error is None or msg.topic() != self.ctx.dlq_topic or \
                error.code() not in too_large or job.dead_letter_headers is None or \
                job.dead_letter_shrinks >= MAX_DEAD_LETTER_SHRINKS:
            return False
        job.dead_letter_shrinks += 1
        sent = len(msg.value() or b"") + sum(len(v or b"") for _, v in message_headers(msg))
        letter = fit_dead_letter(msg.key(), job.value, job.dead_letter_headers,
                                 max(1, sent // 2))
        log.warning("%s: DLQ refused %s; sending %d of %d bytes", job.source, error.name(),
                    len(letter.value), len(job.value))
        self._send(job.job_id, Record(self.ctx.dlq_topic, letter.key, letter.value, letter.headers))
        return True

    def commit(self, *, force: bool = False) -> None:
        if self._due(force):
            self._commit_positions(self._positions())

    def _commit_positions(self, positions: Positions) -> None:
        if not positions:
            return
        try:
            self.consumer.commit(offsets=[KafkaTP(t, p, o) for (t, p), o in positions.items()],
                                 asynchronous=False)
        except KafkaException as exc:
            log.warning("commit failed (will retry): %s", exc)
            return
        self.watermarks.mark_committed(positions)

    def release(self, tps: Collection[TopicPartition]) -> None:
        self.producer.flush(FLUSH_TIMEOUT_S)
        self._settle()
        self._commit_positions(self.watermarks.revoke(list(tps)))

    def drop(self, tps: Collection[TopicPartition]) -> None:
        pass  # nothing held: records already produced are acknowledged for nobody

    def close(self) -> None:
        self.producer.flush(FLUSH_TIMEOUT_S)
        self._settle()
        self.commit(force=True)

    def awaiting(self) -> int:
        return 0


def _covered(positions: Positions, src: SourceRef) -> bool:
    """Is this source offset below the position about to be committed for its partition?"""
    position = positions.get((src.topic, src.partition))
    return position is not None and src.offset < position


class ExactlyOnce(_Base):
    """Hold finished records; produce them and their offsets in one transaction."""

    def __init__(self, ctx: DeliveryContext) -> None:
        super().__init__(ctx)
        self._ready: list[tuple[SourceRef, Sequence[Record]]] = []
        self._committing: Positions | None = None

    def begin(self) -> None:
        self.producer.init_transactions(KAFKA_CALL_TIMEOUT_S)

    def publish(self, job: VideoJob, records: Sequence[Record]) -> None:
        self.watermarks.done(job.tp, job.source.offset)
        self._ready.append((job.source, records))
        self.jobs.forget(job)

    def poll(self) -> None:
        self.producer.poll(0)

    def commit(self, *, force: bool = False) -> None:
        """Produce the finished contiguous prefix and send its offsets, atomically."""
        if not self._due(force):
            return
        if self._committing is not None:
            self._finish(self._committing)  # a commit that timed out: retry it as it is
            return
        positions = self._positions()
        if not positions:
            return
        try:
            self.producer.begin_transaction()
            for src, records in self._ready:
                if _covered(positions, src):
                    for record in records:
                        self._produce(record, lambda err, msg: None)
            self.producer.send_offsets_to_transaction(
                [KafkaTP(t, p, o) for (t, p), o in positions.items()],
                self.consumer.consumer_group_metadata(), KAFKA_CALL_TIMEOUT_S)
        except KafkaException as exc:
            self._abort(exc.args[0])
            return
        self._finish(positions)

    def _finish(self, positions: Positions) -> None:
        try:
            self.producer.commit_transaction(KAFKA_CALL_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0]
            if error.retriable() and not error.txn_requires_abort() and not error.fatal():
                # It may have committed in the background: retry the same commit, never a
                # new transaction with the same records.
                self._committing = positions
                log.warning("transaction commit not confirmed, retrying: %s", error)
                return
            self._committing = None
            self._abort(error)
            return
        self._committing = None
        self._ready = [item for item in self._ready if not _covered(positions, item[0])]
        self.watermarks.mark_committed(positions)

    def _abort(self, error: KafkaError) -> None:
        """Abort and keep the finished records for the next transaction; fatal stops us."""
        if error.fatal():
            self.fatal = PublishError(f"transactional producer fenced or fatal: {error}")
            return
        log.warning("transaction aborted, will retry: %s", error)
        try:
            self.producer.abort_transaction(KAFKA_CALL_TIMEOUT_S)
        except KafkaException as exc:
            if exc.args[0].fatal():
                self.fatal = PublishError(f"transaction abort failed fatally: {exc.args[0]}")
            else:
                log.warning("transaction abort failed, will retry: %s", exc.args[0])

    def release(self, tps: Collection[TopicPartition]) -> None:
        self.commit(force=True)
        self.watermarks.revoke(list(tps))

    def drop(self, tps: Collection[TopicPartition]) -> None:
        self._ready = [(s, r) for s, r in self._ready if (s.topic, s.partition) not in tps]

    def close(self) -> None:
        self.commit(force=True)

    def awaiting(self) -> int:
        return len(self._ready)
