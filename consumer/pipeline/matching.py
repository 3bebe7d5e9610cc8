"""Each signal's per-video matching (hash lists, music catalogues, ...), off the poll loop.

Matching costs time that grows with the reference data and the soundtrack; on the loop's
thread it would stall polling, heartbeats and every other video. It runs on one worker thread
from the moment a video is decoded, alongside its inference; the result comes back to the loop
as a `Matched` completion. Videos are matched in turn (one thread: the indexes are shared and
numpy does the work); what keeps the queue short is that each match is bounded by the signals
themselves (hash lists stay indexed, soundtracks are capped), and the queue is bounded by the
videos in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from consumer.media import Keyframes
from consumer.signals.base import Signal


@dataclass(frozen=True)
class Matches:
    """One video's matches by signal name, and the seconds each signal's matching took."""

    by_signal: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def match(signals: Sequence[Signal], keyframes: Keyframes) -> Matches:
    """Every active signal's `match` over one video."""
    found: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for signal in signals:
        started = time.perf_counter()
        found[signal.name] = signal.match(keyframes)
        if found[signal.name] is not None:
            seconds[f"{signal.name}_match"] = time.perf_counter() - started
    return Matches(found, seconds)


class Matcher:
    """Runs `match` for decoded videos on one thread; with no active signal that matches,
    answers at once (no thread hop)."""

    def __init__(self, signals: Sequence[Signal]) -> None:
        self.signals = [s for s in signals if s.active and type(s).match is not Signal.match]
        self._pool: ThreadPoolExecutor | None = None
        if self.signals:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matching")

    def submit(self, keyframes: Keyframes, done: Callable[[Future[Matches]], None]) -> None:
        if self._pool is None:
            future: Future[Matches] = Future()
            future.set_result(Matches())
        else:
            future = self._pool.submit(match, self.signals, keyframes)
        future.add_done_callback(done)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
