"""Decoding what the coverage plan asks for, and as little else as possible.

The plan (`coverage.CoveragePicker`, pure) is made online from keyframe times. Keyframe
samples are decoded from their packet alone: a keyframe needs no other frame, and skipping
every other packet is what makes this several times faster than a full decode or `ffmpeg
-skip_frame nokey` (design section 9). Where keyframes are too sparse, the frame at the target
is decoded: seek to the keyframe before it and decode forward (non-reference frames skipped
until the last stretch), continuing without a seek when the next target lies in the same GOP.
That forward decoding is bounded by `decode.max_decoded_frames` and by a share of
`decode.timeout_s`; coverage stopped short is reported (`stopped_by`), never hidden.

Two ways through the file: `scan` demuxes in order (cheapest for local files: demuxing is
nearly free) and runs the plan online; `seek` plans from the container's index and jumps to
each sample (reads only the needed byte ranges: pays for remote files with an index and more
keyframes than samples).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from typing import Generic, Literal, TypeVar

from av.container import InputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from consumer.errors import MediaTooLong
from consumer.media.config import DecodeConfig
from consumer.media.coverage import Coverage, CoveragePicker, Sample, coverage_of
from consumer.media.decoders import CpuDecoder, PacketDecoder, Picture

Strategy = Literal["scan", "seek"]

# Forward decoding may use this share of decode.timeout_s; the rest is left for resizing
# and the transfer, so a budget, not the worker's kill, ends a long decode.
DECODE_TIME_SHARE = 0.6
# Non-reference frames are skipped until this close to a decode target (B-pyramids reorder).
FULL_DECODE_LEAD_S = 0.5
_EPS = 1e-6


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


P = TypeVar("P", bound=Picture)


class KeyframeSampler(Generic[P]):
    """Decodes the planned samples of one stream; yields pictures (timestamps on them).

    The decoder is the CPU's unless one is given (GPU node mode passes NVDEC's)."""

    def __init__(self, container: InputContainer, stream: VideoStream, duration_s: float,  # noqa: PLR0917
                 decode: DecodeConfig, fps: float = 0.0,
                 decoder: PacketDecoder[P] | None = None) -> None:
        self._container = container
        self._stream = stream
        self._decode = decode
        self._decoder: PacketDecoder[P] = (
            decoder if decoder is not None
            else CpuDecoder(stream, decode.workers.threads))  # type: ignore[assignment]
        self._time_base: Fraction = stream.time_base or Fraction(1, 90000)
        self._start_s = float((stream.start_time or 0) * self._time_base)
        self._frame_s = 1.0 / fps if fps > 0 else 0.0
        self.picker = CoveragePicker(duration_s, decode.sampling.max_keyframes,
                                     decode.sampling.min_interval_s, self._frame_s)
        self.targets = [self._start_s + t for t in self.picker.targets]
        self.end_s = duration_s  # raised to the last packet seen: a header may understate
        self.frame_times_s: list[float] = []  # every frame's time seen while demuxing
        self.decoded_frames = 0  # frames decoded forward (not keyframes alone)
        self.stopped_by: str | None = None
        self._deadline = time.monotonic() + decode.limits.timeout_s * DECODE_TIME_SHARE
        # Not `stream.discard = nonkey`: the mov demuxer then misplaces keyframe timestamps
        # (composition offsets of skipped samples), a test catches it; filtering here is cheap.

    def time_of(self, packet: Packet[VideoStream]) -> float | None:
        """Seconds from the stream start, or None for a packet without a timestamp."""
        stamp = packet.pts if packet.pts is not None else packet.dts
        return None if stamp is None else float(stamp * self._time_base) - self._start_s

    def frame_time(self, frame: Picture) -> float:
        """Seconds from the stream start (what `Keyframes.pts_s` reports)."""
        stamp = frame.pts if frame.pts is not None else 0
        return max(0.0, float(stamp * self._time_base) - self._start_s)

    def coverage(self, analysed_s: list[float]) -> Coverage:
        """Coverage of what was really analysed, against the real end of the stream."""
        return coverage_of(analysed_s, max(self.end_s, self.picker.duration_s),
                           self.picker.max_gap_s, frame_times_s=self.frame_times_s,
                           tolerance_s=self._frame_s, stopped_by=self.stopped_by)

    # ----------------------------------------------------------------- scan
    def scan(self) -> Iterator[P]:
        """One demux pass in order: each keyframe the plan takes goes to the decoder alone;
        then the frames at targets without a keyframe near them, decoded forward."""
        if not self.picker.targets:
            self._measure_duration()
        candidates: dict[float, Packet[VideoStream]] = {}
        decodes: list[Sample] = []
        for packet in self._container.demux(self._stream):
            time_s = self.time_of(packet)
            if time_s is None or packet.size == 0:
                continue
            self._check_duration(time_s)
            self.end_s = max(self.end_s, time_s + self._frame_s)
            self.frame_times_s.append(time_s)
            if not packet.is_keyframe or self.picker.done:
                continue
            candidates[time_s] = packet
            for sample in self.picker.offer(time_s):
                if sample.keyframe:
                    yield from self._send(candidates[sample.time_s])
                else:
                    decodes.append(sample)
                candidates = {t: p for t, p in candidates.items() if t > sample.time_s}
        for sample in self.picker.finish():
            if sample.keyframe:
                yield from self._send(candidates[sample.time_s])
            else:
                decodes.append(sample)
        yield from self._send(None)
        yield from self._decode_forward(decodes)

    def _measure_duration(self) -> None:
        """A header without a duration (a live-written WebM, e.g. a browser recording): one
        demux pass finds the stream's real end, and the plan is made for it."""
        for packet in self._container.demux(self._stream):
            time_s = self.time_of(packet)
            if time_s is not None and packet.size:
                self._check_duration(time_s)
                self.end_s = max(self.end_s, time_s + self._frame_s)
        if self.end_s > 0:
            self._replan(self.end_s)
        self._seek_to(0.0)

    def _replan(self, duration_s: float) -> None:
        sampling = self._decode.sampling
        self.picker = CoveragePicker(duration_s, sampling.max_keyframes,
                                     sampling.min_interval_s, self._frame_s)
        self.targets = [self._start_s + t for t in self.picker.targets]

    # ----------------------------------------------------------------- seek
    def seek(self) -> Iterator[P]:
        """Plan from the container's index, then one seek per keyframe sample (decoded
        alone) and per run of decode targets (decoded forward)."""
        entries = self._stream.index_entries
        # Index timestamps are decode times; a B-frame stream presents each frame a constant
        # delay later (the first presentation time minus the first decode time).
        shift = (self._stream.start_time or 0) - entries[0].timestamp if len(entries) else 0
        if not self.picker.targets and len(entries):  # no duration in the header
            last = entries[len(entries) - 1]
            self._replan(float((last.timestamp + shift) * self._time_base) - self._start_s
                         + self._frame_s)
        for entry in entries:
            time_s = float((entry.timestamp + shift) * self._time_base) - self._start_s
            self.frame_times_s.append(time_s)
            if entry.is_keyframe:
                self.picker.offer(time_s)
        self.picker.finish()
        if len(entries):
            last = entries[len(entries) - 1]
            self.end_s = max(self.end_s, float((last.timestamp + shift) * self._time_base)
                             - self._start_s + self._frame_s)
        for sample in self.picker.samples:
            if not sample.keyframe:
                continue
            self._seek_to(sample.time_s)
            packet = next((p for p in self._container.demux(self._stream)
                           if p.is_keyframe and p.size and self.time_of(p) is not None), None)
            if packet is None:
                continue
            yield from self._send(packet)
            yield from self._send(None)
            self._decoder.reset()
        yield from self._decode_forward(self.picker.plan().decode_targets)

    # ----------------------------------------------------------------- decode forward
    def _decode_forward(self, samples: list[Sample]) -> Iterator[P]:
        """For each target, the first frame at or after it: seek to the keyframe before it
        and decode forward; a target in the GOP being decoded continues without a seek."""
        pending = deque(sorted(samples, key=lambda s: s.time_s))
        while pending and self.stopped_by is None:
            start = pending[0].start_s
            self._seek_to(start if start is not None else 0.0)
            self._decoder.reset()
            reseek = False
            for frame in self._forward(pending):
                reached = self.frame_time(frame)
                if reached < pending[0].time_s - _EPS:
                    continue
                yield frame
                while pending and pending[0].time_s <= reached + _EPS:
                    pending.popleft()
                if not pending:
                    break
                after = pending[0].start_s
                if after is not None and after > reached + _EPS:
                    reseek = True  # a keyframe nearer the next target: jump there
                    break
            if not reseek:
                return  # the stream or a budget ended: what is left stays unseen

    def _forward(self, pending: deque[Sample]) -> Iterator[P]:
        """Every packet from the current position to the decoder, within the budgets;
        non-reference frames are skipped until close to the next target."""
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                if self.decoded_frames >= self._decode.limits.max_decoded_frames:
                    self.stopped_by = "decode_budget"
                    return
                if time.monotonic() > self._deadline:
                    self.stopped_by = "decode_time_budget"
                    return
                time_s = self.time_of(packet)
                if time_s is not None:
                    self._check_duration(time_s)
                    self.end_s = max(self.end_s, time_s + self._frame_s)
                    near = not pending or time_s >= pending[0].time_s - FULL_DECODE_LEAD_S
                    self._decoder.skip_nonref(not near)
                self.decoded_frames += 1
                yield from self._send(packet)
            self._decoder.skip_nonref(False)
            yield from self._send(None)
        finally:
            self._decoder.skip_nonref(False)

    def first_frames(self) -> Iterator[P]:
        """Fallback for streams that flag no keyframe: decode from the start to one frame."""
        self._container.seek(0)
        self._decoder.reset()
        for packet in self._container.demux(self._stream):
            if packet.size == 0:
                continue
            frames = self._send(packet)
            if frames:
                yield frames[0]
                return
        yield from self._send(None)[:1]

    def _seek_to(self, time_s: float) -> None:
        self._container.seek(round((time_s + self._start_s) / self._time_base),
                             stream=self._stream, backward=True, any_frame=False)

    def _send(self, packet: Packet[VideoStream] | None) -> list[P]:
        return self._decoder.send(packet)

    def _check_duration(self, time_s: float) -> None:
        if time_s > self._decode.limits.max_duration_s:
            raise MediaTooLong(f"stream runs past decode.max_duration_s="
                               f"{self._decode.limits.max_duration_s}")
