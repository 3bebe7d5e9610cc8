"""Cross-video micro-batching decisions for one model. Pure: the clock is passed in.

A GPU is fed well only by full batches, and one video has few keyframes, so rows from many
videos share a batch. A batch goes out when it is full or when its oldest row has waited
`deadline_s`; a video's rows may span batches. A video whose rows were in a batch that timed
out is isolated: its rows then go out only in batches of their own, so a video that costs more
than a timeout cannot take other videos' rows down with it twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from consumer.pixels import Pixels

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Row(Generic[K]):
    """One keyframe of one video: `owner` identifies the video, `index` the keyframe."""

    owner: K
    index: int
    pixels: Pixels
    queued_at: float


@dataclass(frozen=True)
class Batch(Generic[K]):
    rows: tuple[Row[K], ...]
    solo: bool = False  # the rows of one isolated video

    def pixels(self) -> list[Pixels]:
        """The rows' pixels in order, where they are (the client copies them once)."""
        return [row.pixels for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


class MicroBatcher(Generic[K]):
    """Bounded FIFO of rows; `take` cuts a batch when full or past the deadline."""

    def __init__(self, max_size: int, deadline_s: float, max_queued: int) -> None:
        if max_size < 1 or max_queued < max_size:
            raise ValueError("need 1 <= max_size <= max_queued")
        self.max_size = max_size
        self.deadline_s = deadline_s
        self.max_queued = max_queued
        self._rows: deque[Row[K]] = deque()
        self._isolated: set[K] = set()

    def __len__(self) -> int:
        return len(self._rows)

    def has_room(self, rows: int) -> bool:
        return len(self._rows) + rows <= self.max_queued

    def add(self, owner: K, frames: Pixels, now: float) -> None:
        """Queue every keyframe of one video ([N, H, W, C]); refuse beyond the bound."""
        if not self.has_room(len(frames)):
            raise OverflowError(f"batcher full: {len(self._rows)} rows queued, "
                                f"limit {self.max_queued}")
        for index, pixels in enumerate(frames):
            self._rows.append(Row(owner, index, pixels, now))

    def requeue(self, batch: Batch[K]) -> None:
        """Put a batch that failed transiently back in front, keeping its rows' age."""
        self._rows.extendleft(reversed(batch.rows))

    def isolate(self, owner: K) -> None:
        """From now on, this video's rows go out in batches of their own."""
        self._isolated.add(owner)

    def due_in(self, now: float, *, solo: bool = True) -> float | None:
        """Seconds until the next batch is due (0 = now), or None when nothing can go out;
        without `solo`, isolated videos' rows wait (one of them is being tried)."""
        rows = self._rows if solo or not self._isolated else \
            [row for row in self._rows if row.owner not in self._isolated]
        if not rows:
            return None
        if len(rows) >= self.max_size or (solo and self._isolated & {r.owner for r in rows}):
            return 0.0
        return max(0.0, rows[0].queued_at + self.deadline_s - now)

    def take(self, now: float, *, flush: bool = False, solo: bool = True) -> Batch[K] | None:
        """The next batch if one is due (full, past deadline, or `flush`). An isolated video
        goes first, alone (`solo` allows it), the one with fewest rows queued; other rows
        never share a batch with it."""
        due = self.due_in(now, solo=solo)
        if due is None or (due > 0 and not flush):
            return None
        if not self._isolated:
            size = min(self.max_size, len(self._rows))
            return Batch(tuple(self._rows.popleft() for _ in range(size)))
        queued: dict[K, int] = {}
        for row in self._rows:
            if row.owner in self._isolated:
                queued[row.owner] = queued.get(row.owner, 0) + 1
        self._isolated &= queued.keys()  # the others' rows are all out
        if solo and queued:
            owner = min(queued, key=queued.__getitem__)
            batch = self._cut(lambda row: row.owner == owner, solo=True)
            if queued[owner] <= self.max_size:
                self._isolated.discard(owner)  # all out; a new timeout isolates it again
            return batch
        return self._cut(lambda row: row.owner not in self._isolated, solo=False)

    def _cut(self, fits: Callable[[Row[K]], bool], *, solo: bool) -> Batch[K] | None:
        taken: list[Row[K]] = []
        kept: deque[Row[K]] = deque()
        for row in self._rows:
            (taken if len(taken) < self.max_size and fits(row) else kept).append(row)
        self._rows = kept
        return Batch(tuple(taken), solo) if taken else None

    def drop(self, owners: set[K]) -> int:
        """Forget the rows of these videos (revoked partitions, given up); returns rows
        dropped."""
        kept = deque(row for row in self._rows if row.owner not in owners)
        dropped = len(self._rows) - len(kept)
        self._rows = kept
        self._isolated -= owners
        return dropped
