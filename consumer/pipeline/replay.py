"""Replay: reprocess a time range of the input topic through the same pipeline.

A replay has its own consumer group (`<live group>.replay.<run id>`), so the live group's
offsets are never touched; its end is fixed when it starts; restarted with the same run id it
resumes from its own committed offsets.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

from consumer.pipeline import group_offsets
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.watermarks import TopicPartition, Watermarks
from consumer.settings import KafkaSettings


@dataclass(frozen=True)
class Window:
    """A bounded run (a replay): fixed partitions from `start` up to `end` (exclusive), and
    only events stamped in [from_ms, to_ms); the run ends when every partition is done."""

    start: Mapping[TopicPartition, int]
    end: Mapping[TopicPartition, int]
    from_ms: int | None = None
    to_ms: int | None = None

    def holds(self, timestamp_ms: int) -> bool:
        return (self.from_ms is None or timestamp_ms >= self.from_ms) and \
            (self.to_ms is None or timestamp_ms < self.to_ms)

    def place(self, tp: TopicPartition, offset: int,
              timestamp_ms: int) -> Literal["inside", "past_end", "outside_time"]:
        """Past the end: the partition is finished. Outside the time range: skip the event."""
        if offset >= self.end.get(tp, 0):
            return "past_end"
        return "inside" if self.holds(timestamp_ms) else "outside_time"

    def done(self, watermarks: Watermarks) -> bool:
        """Every partition committed up to its end (or had nothing to do)."""
        for tp, end in self.end.items():
            position = watermarks.committed(tp)
            if position is None:
                position = self.start.get(tp, end)
            if position < end or watermarks.inflight(tp):
                return False
        return True


def replay_group(live_group: str, run_id: str) -> str:
    return f"{live_group}.replay.{run_id}"


@dataclass(frozen=True)
class PartitionPlan:
    partition: int
    start: int
    end: int
    resumed: bool

    @property
    def count(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True)
class ReplayPlan:
    topic: str
    group: str
    partitions: tuple[PartitionPlan, ...]
    from_ms: int
    to_ms: int | None

    @property
    def total(self) -> int:
        return sum(p.count for p in self.partitions)

    def window(self) -> Window:
        return Window(start={(self.topic, p.partition): p.start for p in self.partitions},
                      end={(self.topic, p.partition): p.end for p in self.partitions},
                      from_ms=self.from_ms, to_ms=self.to_ms)


def plan_replay(kafka: KafkaSettings, topic: str, group: str, *, from_ms: int,
                to_ms: int | None, partitions: Sequence[int] | None = None) -> ReplayPlan:
    """Start at the first offset stamped >= from (or where this run id stopped); end at the
    first offset stamped >= to, or at the end offsets as they are now."""
    parts = group_offsets.topic_partitions(kafka, topic, partitions)
    starts = group_offsets.offsets_at(kafka, topic, parts, from_ms)
    now = {pos.partition: pos for pos in group_offsets.positions(kafka, group, topic, parts)}
    ends = group_offsets.offsets_at(kafka, topic, parts, to_ms) if to_ms is not None \
        else {p: now[p].end for p in parts}
    plans = []
    for p in parts:
        committed = now[p].committed
        resumed = committed is not None and starts[p] <= committed <= ends[p]
        plans.append(PartitionPlan(p, committed if resumed and committed is not None
                                   else starts[p], ends[p], resumed))
    return ReplayPlan(topic, group, tuple(plans), from_ms, to_ms)


class ReplayProgress(PipelineHooks):
    """Events done / total with ETA: a bar on a terminal, a plain line every few seconds else."""

    def __init__(self, total: int, out: TextIO = sys.stderr, interval_s: float = 5.0) -> None:
        self.total = total
        self.done = 0
        self.out = out
        self.tty = out.isatty()
        self.interval_s = interval_s
        self.started = time.monotonic()
        self._last = 0.0

    def event(self, outcome: str) -> None:
        if outcome in ("invalid", "skipped"):
            self._advance()

    def verdict(self, verdict: str, latency_s: float | None) -> None:
        self._advance()

    def _advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.tty or now - self._last >= self.interval_s or self.done >= self.total:
            self._last = now
            self.out.write(self.render(now))
            self.out.flush()

    def render(self, now: float) -> str:
        share = self.done / self.total if self.total else 1.0
        rate = self.done / max(now - self.started, 1e-6)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_text = f"{eta:.0f}s" if eta != float("inf") else "?"
        text = f"{self.done}/{self.total} events ({share:.0%}), {rate:.1f}/s, ETA {eta_text}"
        if self.tty:
            bar = "#" * int(share * 30)
            return f"\r[{bar:<30}] {text}" + ("\n" if self.done >= self.total else "")
        return f"replay: {text}\n"
