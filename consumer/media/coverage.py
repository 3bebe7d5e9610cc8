"""Which moments of a video to look at, so that no stretch of it goes unseen. Pure: no I/O.

The threat is an uploader who controls the GOP: a 60 s upload whose only keyframe is at t=0
(x264 `keyint=9999`, screen recorders, or on purpose), analysed on keyframes alone, is seen at
one timestamp, and anything after the first frame passes. Keyframes are the cheap path, not
the definition of coverage.

The plan spreads `count` targets over the duration (centres of equal slices, `step` apart).
Each target takes the keyframe nearest to it within half a slice, provided the gap from the
previous sample stays within `max_gap_s = 1.5 * step`; where no keyframe qualifies, the frame
at the target itself is decoded (seek to the keyframe before it, decode forward). Every gap
(start -> first sample, between samples, last sample -> end) is then at most `max_gap_s`:
1.5 x duration / max_keyframes, or 1.5 x `min_interval_s` for videos too short for
`max_keyframes` samples that far apart. Keyframes close enough for `count` of them to keep
every gap within the bound (a 60 s upload with 16 samples: a GOP of up to 2 s) are all that
is decoded, as before; sparser ones cost forward decoding at some targets.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GAP_FACTOR = 1.5
_EPS = 1e-6


def sample_targets(duration_s: float, max_keyframes: int, min_interval_s: float) -> list[float]:
    """Evenly spread target times (centres of equal slices); [] when the duration is unknown."""
    if duration_s <= 0 or max_keyframes <= 0:
        return []
    count = max_keyframes
    if min_interval_s > 0:
        count = min(count, max(1, int(duration_s // min_interval_s)))
    step = duration_s / count
    return [step * (i + 0.5) for i in range(count)]


@dataclass(frozen=True)
class Sample:
    """One moment to analyse: a keyframe decoded alone, or a frame decoded from `start_s`
    (the keyframe before it; None when no keyframe precedes it) forward to `time_s`."""

    time_s: float
    keyframe: bool
    start_s: float | None = None


@dataclass(frozen=True)
class Plan:
    samples: list[Sample]
    duration_s: float
    max_gap_s: float

    @property
    def keyframe_times(self) -> list[float]:
        return [s.time_s for s in self.samples if s.keyframe]

    @property
    def decode_targets(self) -> list[Sample]:
        return [s for s in self.samples if not s.keyframe]


class CoveragePicker:
    """The plan, made online as keyframe times stream past in order (a demux pass reads
    each keyframe once; a plan must not need the whole list first).

    A target's window is closed by the first keyframe past it, or by `finish` at the end of
    the stream; closing yields its sample. Windows of successive targets do not overlap, so
    a keyframe is a candidate for one target only.
    """

    def __init__(self, duration_s: float, max_samples: int, min_interval_s: float,
                 frame_s: float = 0.0) -> None:
        self.targets = sample_targets(duration_s, max_samples, min_interval_s)
        self.duration_s = duration_s
        self.step_s = duration_s / len(self.targets) if self.targets else 0.0
        self.max_gap_s = GAP_FACTOR * self.step_s
        self._margin = min(frame_s, self.step_s / 4)
        self._next = 0
        self._last: float | None = None
        self._keyframes: list[float] = []
        self.samples: list[Sample] = []

    @property
    def done(self) -> bool:
        """Every target has its sample: later keyframes change nothing."""
        return self._next >= len(self.targets)

    def _hi(self) -> float:
        """The latest time the open target's sample may have: half a slice past the target,
        and no more than `max_gap_s` (less the margin) after the previous sample."""
        origin = 0.0 if self._last is None else self._last
        target = self.targets[self._next]
        return min(target + self.step_s / 2, origin + self.max_gap_s - self._margin)

    def offer(self, time_s: float) -> list[Sample]:
        """The next keyframe time (non-decreasing); returns the samples it closes."""
        if self._keyframes and time_s < self._keyframes[-1]:
            return []  # out of order (a broken stream): ignored, never trusted
        self._keyframes.append(time_s)
        closed: list[Sample] = []
        while not self.done and time_s > self._hi() + _EPS:
            closed.append(self._close())
        return closed

    def finish(self) -> list[Sample]:
        """At the end of the stream: the samples of every target still open."""
        closed: list[Sample] = []
        while not self.done:
            closed.append(self._close())
        return closed

    def _close(self) -> Sample:
        """The target's sample: the nearest keyframe seen in its window (the earlier on a
        tie), else the frame at the target, decoded from the keyframe before it."""
        target = self.targets[self._next]
        keys = self._keyframes
        first = bisect_left(keys, target - self.step_s / 2 - _EPS)
        if self._last is not None:  # strictly after the previous sample
            first = max(first, bisect_right(keys, self._last + _EPS))
        window = keys[first:bisect_right(keys, self._hi() + _EPS)]
        if window:
            sample = Sample(min(window, key=lambda k: (abs(k - target), k)), keyframe=True)
        else:
            at = target - self._margin
            if self._last is not None:
                at = max(at, self._last + _EPS)
            before = bisect_right(keys, at + _EPS)
            sample = Sample(at, keyframe=False, start_s=keys[before - 1] if before else None)
        self._last = sample.time_s
        self._next += 1
        self.samples.append(sample)
        return sample

    def plan(self) -> Plan:
        return Plan(list(self.samples), self.duration_s, self.max_gap_s)


def plan_samples(keyframes_s: Sequence[float], duration_s: float, max_samples: int,
                 min_interval_s: float, frame_s: float = 0.0) -> Plan:
    """The samples for a video whose keyframes lie at `keyframes_s` (seconds from the stream
    start). `frame_s` (one frame interval) is kept as margin: a decoded sample is the first
    frame at or after its target minus `frame_s`."""
    picker = CoveragePicker(duration_s, max_samples, min_interval_s, frame_s)
    for time_s in sorted(keyframes_s):
        picker.offer(time_s)
    picker.finish()
    return picker.plan()


@dataclass(frozen=True)
class Coverage:
    """What was looked at: the analysed times, the largest unseen stretch, and whether the
    guarantee held (to within one frame interval, `tolerance_s`)."""

    analysed_s: list[float]
    duration_s: float
    largest_gap_s: float
    max_gap_s: float
    complete: bool
    stopped_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "analysed_s": [round(t, 3) for t in self.analysed_s],
            "largest_gap_s": round(self.largest_gap_s, 3),
            "max_gap_s": round(self.max_gap_s, 3),
            "complete": self.complete,
            "stopped_by": self.stopped_by,
        }


def largest_gap(analysed_s: Sequence[float], duration_s: float,
                frame_times_s: Sequence[float] = ()) -> float:
    """The longest unseen stretch: start -> first, between samples, last -> end. With the
    stream's frame times, an analysed frame counts as seen until the next frame replaces it
    (a frame shown for 0.8 s of a variable-rate video is seen for all of it)."""
    points = sorted(t for t in analysed_s if 0 <= t <= duration_s)
    if not points:
        return duration_s
    times = sorted(frame_times_s)

    def shown_until(time_s: float) -> float:
        after = bisect_right(times, time_s + _EPS)
        return min(times[after], duration_s) if after < len(times) else time_s

    gaps = [points[0]] + [b - shown_until(a) for a, b in itertools.pairwise(points)]
    return max([*gaps, duration_s - shown_until(points[-1])])


def coverage_of(analysed_s: Sequence[float], duration_s: float, max_gap_s: float, *,
                frame_times_s: Sequence[float] = (), tolerance_s: float = 0.0,
                stopped_by: str | None = None) -> Coverage:
    """Measure coverage from what was really analysed (not from the plan)."""
    gap = largest_gap(analysed_s, duration_s, frame_times_s)
    complete = stopped_by is None and bool(analysed_s) and \
        gap <= max_gap_s + tolerance_s + _EPS
    return Coverage(sorted(analysed_s), duration_s, gap, max_gap_s, complete, stopped_by)
