"""Cross-video micro-batching decisions for one model. Pure: the clock is passed in.

A GPU is fed well only by full batches, and one video has few keyframes, so rows from many
videos share a batch. A batch goes out when it is full or when its oldest row has waited
`deadline_s`; a video's rows may span batches.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
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

    def due_in(self, now: float) -> float | None:
        """Seconds until the next batch is due (0 = now), or None when empty."""
        if not self._rows:
            return None
        if len(self._rows) >= self.max_size:
            return 0.0
        return max(0.0, self._rows[0].queued_at + self.deadline_s - now)

    def take(self, now: float, *, flush: bool = False) -> Batch[K] | None:
        """The next batch if one is due (full, past deadline, or `flush`)."""
        due = self.due_in(now)
        if due is None or (due > 0 and not flush):
            return None
        size = min(self.max_size, len(self._rows))
        return Batch(tuple(self._rows.popleft() for _ in range(size)))

    def drop(self, owners: set[K]) -> int:
        """Forget the rows of these videos (revoked partitions); returns rows dropped."""
        kept = deque(row for row in self._rows if row.owner not in owners)
        dropped = len(self._rows) - len(kept)
        self._rows = kept
        return dropped
