"""Per-partition offset watermarks for out-of-order completion.

Videos finish in any order, but Kafka commits one position per partition. Only the contiguous
prefix of finished offsets is committable: the watermark is the lowest unfinished offset. A
crash therefore replays at most the in-flight window (at-least-once).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass
class _PartitionWindow:
    """Offsets started on one partition, oldest first, each with its done flag."""

    pending: deque[list[int | bool]] = field(default_factory=deque)
    committable: int | None = None
    committed: int | None = None


class Watermarks:
    """Pure bookkeeping: `start` in poll order, `done` in any order, read `to_commit`."""

    def __init__(self) -> None:
        self._windows: dict[TopicPartition, _PartitionWindow] = {}

    def start(self, tp: TopicPartition, offset: int) -> None:
        window = self._windows.setdefault(tp, _PartitionWindow())
        if window.pending and offset <= int(window.pending[-1][0]):
            raise ValueError(f"{tp[0]}[{tp[1]}]@{offset} started out of order")
        window.pending.append([offset, False])

    def done(self, tp: TopicPartition, offset: int) -> None:
        """Mark finished; unknown offsets (e.g. of a revoked partition) are ignored."""
        window = self._windows.get(tp)
        if window is None:
            return
        for entry in window.pending:
            if entry[0] == offset:
                entry[1] = True
                break
        else:
            return
        while window.pending and window.pending[0][1]:
            finished = int(window.pending.popleft()[0])
            window.committable = finished + 1

    def to_commit(self) -> dict[TopicPartition, int]:
        """Positions (next offset to read) that advanced since they were last marked committed."""
        return {
            tp: w.committable
            for tp, w in self._windows.items()
            if w.committable is not None and w.committable != w.committed
        }

    def mark_committed(self, positions: dict[TopicPartition, int]) -> None:
        for tp, position in positions.items():
            window = self._windows.get(tp)
            if window is not None:
                window.committed = position

    def revoke(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Forget partitions; return their final committable positions (commit before leaving)."""
        final = {}
        for tp in tps:
            window = self._windows.pop(tp, None)
            if window is not None and window.committable is not None \
                    and window.committable != window.committed:
                final[tp] = window.committable
        return final

    def committed(self, tp: TopicPartition) -> int | None:
        """The last position marked committed for this partition, if any."""
        window = self._windows.get(tp)
        return None if window is None else window.committed

    def inflight(self, tp: TopicPartition | None = None) -> int:
        """Unfinished offsets on one partition, or on all of them."""
        windows = [self._windows.get(tp)] if tp is not None else list(self._windows.values())
        return sum(1 for w in windows if w for entry in w.pending if not entry[1])
