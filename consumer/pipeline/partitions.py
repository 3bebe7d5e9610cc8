"""The partitions this consumer owns: rebalance callbacks, dropping work, and backpressure.

Rebalances are cooperative (incremental): a revoke first commits what is final for the
leaving partitions, a loss (session timed out, someone else may own them already) commits
nothing; either way their work in flight is dropped and their next owner redoes it.
Backpressure is pause/resume, never a stopped poll, so the group keeps its heartbeats.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from confluent_kafka import TopicPartition as KafkaTP

from consumer.pipeline.delivery import Delivery
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.jobs import Jobs
from consumer.pipeline.ports import KafkaConsumer
from consumer.pipeline.watermarks import TopicPartition, Watermarks

log = logging.getLogger("consumer.pipeline")


class Partitions:
    """Assigned, paused and finished partitions; `on_*` are the consumer's rebalance callbacks."""

    def __init__(self, consumer: KafkaConsumer, watermarks: Watermarks, jobs: Jobs,
                 hooks: PipelineHooks, *, on_drop: Callable[[set[int]], None]) -> None:
        self.consumer = consumer
        self.watermarks = watermarks
        self.jobs = jobs
        self.hooks = hooks
        self.on_drop = on_drop  # job ids whose queued rows must go too
        self.delivery: Delivery | None = None  # set once built (it reads `assigned`)
        self.assigned: set[TopicPartition] = set()
        self.paused: set[TopicPartition] = set()
        self.finished: set[TopicPartition] = set()  # a replay's partitions past their end
        self._fresh: set[TopicPartition] = set()

    def on_assign(self, consumer: Any, partitions: list[KafkaTP]) -> None:
        tps = {(p.topic, p.partition) for p in partitions}
        self.watermarks.revoke(list(tps))  # a partition that comes back starts a fresh window
        self.assigned |= tps
        # Pause state set inside this callback does not survive the assignment that follows
        # it, and an old pause may: the next loop step sets these partitions' state explicitly.
        self._fresh |= tps
        self.paused -= tps
        log.info("assigned %s", sorted(tps))
        self.hooks.assignment(len(self.assigned))

    def on_revoke(self, consumer: Any, partitions: list[KafkaTP]) -> None:
        tps = {(p.topic, p.partition) for p in partitions}
        log.info("revoked %s", sorted(tps))
        if self.delivery is not None:
            self.delivery.release(tps)
        self.drop(tps)
        self.hooks.assignment(len(self.assigned))

    def on_lost(self, consumer: Any, partitions: list[KafkaTP]) -> None:
        tps = {(p.topic, p.partition) for p in partitions}
        log.warning("lost %s: dropping their work without committing", sorted(tps))
        self.watermarks.revoke(list(tps))
        self.drop(tps)
        self.hooks.assignment(len(self.assigned))

    def drop(self, tps: Collection[TopicPartition]) -> None:
        """Forget every job of these partitions; their next owner reads them again."""
        gone = self.jobs.on(tps)
        for job in gone:
            if job.decode is not None:
                job.decode.cancel()
            self.jobs.forget(job)
        self.on_drop({job.job_id for job in gone})
        if self.delivery is not None:
            self.delivery.drop(tps)
        self.assigned -= set(tps)
        self.paused -= set(tps)

    def apply(self, *, pause_all: bool, resume: bool, why: dict[str, Any]) -> None:
        """Pause every partition, resume them, or keep them as they are; a replay's finished
        partitions stay paused, and freshly assigned ones get their state set explicitly."""
        if pause_all:
            want = set(self.assigned)
        elif resume:
            want = set()
        else:
            want = self.paused & self.assigned
        want |= self.finished & self.assigned
        fresh, self._fresh = self._fresh & self.assigned, set()
        to_pause = (want - self.paused) | (fresh & want)
        to_resume = (self.paused - want) | (fresh - want)
        if to_pause:
            self.consumer.pause([KafkaTP(t, p) for t, p in sorted(to_pause)])
            log.info("paused %d partitions", len(to_pause), extra=why)
        if to_resume:
            self.consumer.resume([KafkaTP(t, p) for t, p in sorted(to_resume)])
            log.info("resumed %d partitions", len(to_resume), extra=why)
        self.paused = want
