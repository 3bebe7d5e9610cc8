"""Which keyframes to decode, and decoding only those.

The plan is pure: `sample_targets` spreads up to `max_keyframes` target times evenly over the
duration (never closer than `min_interval_s`), and `KeyframePicker` maps each target to the
latest keyframe at or before it, online, as keyframe timestamps stream past. The sampler then
feeds only the chosen keyframe packets to a threaded decoder: a keyframe needs no other
frame, and skipping every other packet is what makes this several times faster than both a
full decode and `ffmpeg -skip_frame nokey` (design section 9).

Two ways to reach the keyframes: `scan` demuxes in order (cheapest for local files: demuxing
is nearly free, and the pass stops after the last target) and `seek` jumps to each target
(reads only the needed byte ranges: pays for remote files with an index and more keyframes
than samples).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Literal

from av.container import InputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from consumer.media.errors import MediaTooLong
from consumer.settings import DecodeSettings

Strategy = Literal["scan", "seek"]


def sample_targets(duration_s: float, max_keyframes: int, min_interval_s: float) -> list[float]:
    """Evenly spread target times (centres of equal slices); [] when the duration is unknown."""
    if duration_s <= 0 or max_keyframes <= 0:
        return []
    count = max_keyframes
    if min_interval_s > 0:
        count = min(count, max(1, int(duration_s // min_interval_s)))
    step = duration_s / count
    return [step * (i + 0.5) for i in range(count)]


class KeyframePicker:
    """Online choice of keyframes for target times, from keyframe times in stream order.

    Each target takes the latest keyframe at or before it (the first keyframe if none is);
    a keyframe is taken once, and never within `min_interval_s` of the previous one. With no
    targets (unknown duration) keyframes are taken greedily, `min_interval_s` apart.
    """

    def __init__(self, targets: Sequence[float], min_interval_s: float, max_picks: int) -> None:
        self._targets = list(targets)
        self._min_interval_s = min_interval_s
        self._max_picks = max_picks
        self._next = 0
        self._held: float | None = None
        self.picked: list[float] = []

    @property
    def done(self) -> bool:
        """True once no later keyframe can be picked: the caller may stop demuxing."""
        if len(self.picked) >= self._max_picks:
            return True
        return bool(self._targets) and self._next >= len(self._targets)

    def offer(self, time_s: float) -> list[float]:
        """Offer the next keyframe; returns the times to decode now (the held one and/or it)."""
        if self.done:
            return []
        if not self._targets:
            return [time_s] if self.accept(time_s) else []
        chosen: list[float] = []
        while self._next < len(self._targets) and time_s > self._targets[self._next]:
            candidate = self._held if self._held is not None else time_s
            if self.accept(candidate):
                chosen.append(candidate)
            self._next += 1
        self._held = time_s
        return chosen

    def finish(self) -> list[float]:
        """At the end of the stream: the held keyframe, if a target still waits for it."""
        if self._held is not None and not self.done and self.accept(self._held):
            return [self._held]
        return []

    def accept(self, time_s: float) -> bool:
        """Record `time_s` as picked unless it repeats or crowds the previous pick."""
        if len(self.picked) >= self._max_picks:
            return False
        if self.picked and time_s - self.picked[-1] < max(self._min_interval_s, 1e-9):
            return False
        self.picked.append(time_s)
        return True


def choose_strategy(setting: str, remote: bool, stream: VideoStream, targets: int) -> Strategy:
    """`seek` only where it pays: a remote source with an index holding more keyframes than
    samples (seeking costs a range request and a decoder drain per sample)."""
    if setting in ("scan", "seek"):
        return setting  # type: ignore[return-value]
    if not remote or targets == 0:
        return "scan"
    entries = stream.index_entries
    keyframes = sum(1 for entry in entries if entry.is_keyframe) if len(entries) else 0
    return "seek" if keyframes > 2 * targets else "scan"


class KeyframeSampler:
    """Decodes the planned keyframes of one stream; yields frames (timestamps on them)."""

    def __init__(self, container: InputContainer, stream: VideoStream, duration_s: float,
                 decode: DecodeSettings) -> None:
        self._container = container
        self._stream = stream
        self._decode = decode
        self._time_base: Fraction = stream.time_base or Fraction(1, 90000)
        self._start_s = float((stream.start_time or 0) * self._time_base)
        self.targets = [self._start_s + t for t in
                        sample_targets(duration_s, decode.max_keyframes, decode.min_interval_s)]
        self._max_picks = decode.max_keyframes
        ctx = stream.codec_context
        ctx.thread_type = "FRAME"
        ctx.thread_count = decode.threads
        # Not `stream.discard = nonkey`: the mov demuxer then misplaces keyframe timestamps
        # (composition offsets of skipped samples), a test catches it; filtering here is cheap.

    def time_of(self, packet: Packet[VideoStream]) -> float | None:
        stamp = packet.pts if packet.pts is not None else packet.dts
        return None if stamp is None else float(stamp * self._time_base)

    def frame_time(self, frame: VideoFrame) -> float:
        """Seconds from the stream start (what `Keyframes.pts_s` reports)."""
        stamp = frame.pts if frame.pts is not None else 0
        return max(0.0, float(stamp * self._time_base) - self._start_s)

    def scan(self) -> Iterator[VideoFrame]:
        """One demux pass in order, decoding only the picked keyframe packets."""
        picker = KeyframePicker(self.targets, self._decode.min_interval_s, self._max_picks)
        held: Packet[VideoStream] | None = None
        for packet in self._container.demux(self._stream):
            if not packet.is_keyframe or packet.size == 0:
                continue
            time_s = self.time_of(packet)
            if time_s is None:
                continue
            self._check_duration(time_s)
            for chosen in picker.offer(time_s):
                yield from self._send(packet if chosen == time_s else held)
            if picker.done:
                break
            held = packet
        for _ in picker.finish():
            yield from self._send(held)
        yield from self._send(None)

    def seek(self) -> Iterator[VideoFrame]:
        """One seek per target to the keyframe at or before it; the decoder drains each time."""
        picker = KeyframePicker([], self._decode.min_interval_s, self._max_picks)
        ctx = self._stream.codec_context
        for target in self.targets:
            self._container.seek(round(target / self._time_base), stream=self._stream,
                                 backward=True, any_frame=False)
            packet = next((p for p in self._container.demux(self._stream)
                           if p.is_keyframe and p.size and self.time_of(p) is not None), None)
            if packet is None:
                break
            time_s = self.time_of(packet)
            assert time_s is not None
            if not picker.accept(time_s):
                continue
            yield from self._send(packet)
            yield from self._send(None)
            ctx.flush_buffers()

    def first_frames(self) -> Iterator[VideoFrame]:
        """Fallback for streams that flag no keyframe: decode from the start to one frame."""
        self._container.seek(0)
        for frame in self._container.decode(self._stream):
            yield frame
            return

    def _send(self, packet: Packet[VideoStream] | None) -> list[VideoFrame]:
        return self._stream.codec_context.decode(packet)

    def _check_duration(self, time_s: float) -> None:
        if time_s - self._start_s > self._decode.max_duration_s:
            raise MediaTooLong(f"stream runs past decode.max_duration_s="
                               f"{self._decode.max_duration_s}")
