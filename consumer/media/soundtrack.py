"""Every audio stream of an upload, heard: one Chromaprint fingerprint per stream.

A container may carry several audio streams (dubs, commentary, a "music only" track) and a
player lets the viewer pick any of them, whichever is flagged default: music hidden in stream 2
behind a near-silent stream 1 is still played to whoever picks it. So every audio stream is
heard, the default-flagged ones first, up to `max_streams`; each is fingerprinted on its own
(a mix would let a loud stream mask a quiet one). One demuxing pass feeds all of them, so the
time share and memory of the decode worker bound the lot: audio goes into a Chromaprint context
as it is decoded (32 bytes of fingerprint per second of audio, never the PCM), and each stream
stops at `max_s`. The signals' per-stream listeners (consumer.media.listeners) are fed from
the same decoded audio, each at its own rate; fingerprinting itself is optional (a deployment
may want only a listener). Whatever was not heard in full (a stream cap, the length cap, the
deadline, a stream that fails to decode) is said, so the policy can fail closed on it.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import av
import av.container
import numpy as np
import numpy.typing as npt

from consumer.errors import FingerprintError
from consumer.media.chromaprint import SAMPLE_RATE, Fingerprinter
from consumer.media.listeners import AudioListener, Feed, StreamValue

OK, PARTIAL, UNDECODABLE, NONE = "ok", "partial", "undecodable", "none"


@dataclass(frozen=True)
class StreamFingerprint:
    """The raw fingerprint of one audio stream (`stream`: its index in the container)."""

    stream: int
    items: npt.NDArray[np.uint32]


@dataclass(frozen=True)
class Heard:
    """What was heard of a soundtrack: `status` ok (every stream in full), partial (something
    cut or failed, the rest heard), undecodable (no stream decoded) or none (no audio stream),
    and why, when not ok."""

    status: str
    fingerprints: tuple[StreamFingerprint, ...] = ()
    why: str | None = None
    listened: dict[str, tuple[StreamValue, ...]] = field(default_factory=dict)  # by listener


@dataclass
class _Stream:
    stream: av.audio.stream.AudioStream
    limit: int
    fingerprinter: Fingerprinter | None
    resampler: av.AudioResampler = field(default_factory=lambda: av.AudioResampler(
        format="s16", layout="mono", rate=SAMPLE_RATE))
    feeds: list[tuple[Feed, av.AudioResampler]] = field(default_factory=list)
    have: int = 0
    cut: bool = False
    error: str | None = None

    @property
    def done(self) -> bool:
        if self.error is not None:
            return True
        return (self.cut or self.fingerprinter is None) and all(
            feed.cut or feed.error is not None for feed, _ in self.feeds)

    def decoded(self, frames: list[av.AudioFrame | None]) -> None:
        """Decoded audio (None: flush the resamplers) to the fingerprint and every feed."""
        if self.fingerprinter is not None and not self.cut:
            self.take([out for frame in frames for out in self.resampler.resample(frame)])
        for feed, resampler in self.feeds:
            if not (feed.cut or feed.error is not None):
                for frame in frames:
                    for out in resampler.resample(frame):
                        feed.take(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))

    def take(self, frames: list[av.AudioFrame]) -> None:
        """Feed resampled audio up to the limit; audio beyond it marks the stream cut."""
        assert self.fingerprinter is not None
        for out in frames:
            samples = np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1)
            room = self.limit - self.have
            if samples.size > room:
                samples, self.cut = samples[:room], True
            self.fingerprinter.feed(samples)
            self.have += samples.size
            if self.cut:
                return

    @property
    def any_cut(self) -> bool:
        return self.cut or any(feed.cut for feed, _ in self.feeds)


def audio_streams(container: av.container.InputContainer) -> list[av.audio.stream.AudioStream]:
    """The audio streams in the order they are heard: default-flagged first, then by index."""
    return sorted(container.streams.audio,
                  key=lambda s: (not (s.disposition & av.stream.Disposition.default), s.index))


def hear(container: av.container.InputContainer, max_streams: int, max_s: float,
         deadline: float | None = None, *, fingerprint: bool = True,
         listeners: tuple[AudioListener, ...] = ()) -> Heard:
    """Fingerprint (`fingerprint`) up to `max_streams` audio streams from the container's
    current position (pass a freshly opened or rewound one), `max_s` seconds of each, until
    `deadline` (time.monotonic()), and feed each listener its first `max_streams` of them.
    FFmpeg errors of one stream cut that stream only."""
    streams = audio_streams(container)
    if not streams:
        return Heard(NONE)
    limit = sys.maxsize if math.isinf(max_s) else max(0, math.floor(max_s * SAMPLE_RATE))
    heard: dict[int, _Stream] = {}
    why: list[str] = []
    try:
        for order, stream in enumerate(streams[:max_streams]):
            heard[stream.index] = _Stream(stream, limit,
                                          Fingerprinter() if fingerprint else None)
            heard[stream.index].feeds = [(_feed(listener, max_s), av.AudioResampler(
                format="s16", layout="mono", rate=listener.sample_rate))
                for listener in listeners if order < listener.max_streams]
        late = _demux(container, heard, deadline)
        if len(streams) > max_streams:
            why.append(f"{len(streams)} audio streams, {max_streams} heard "
                       "(signals.music.max_audio_streams)")
        if late:
            why.append("the soundtrack's time share of decode.timeout_s ran out")
        if any(s.any_cut for s in heard.values()):
            why.append(f"audio beyond max_soundtrack_s={max_s:g} not heard")
        why.extend(f"stream {i}: {s.error}" for i, s in heard.items() if s.error)
        fingerprints = tuple(StreamFingerprint(i, s.fingerprinter.finish())
                             for i, s in heard.items() if s.fingerprinter is not None
                             and (s.error is None or s.have))
        listened = {listener.name: tuple(_listened(feed, i, s, late) for i, s in heard.items()
                                         for feed, _ in s.feeds if feed.listener is listener)
                    for listener in listeners}
    finally:
        for state in heard.values():
            if state.fingerprinter is not None:
                state.fingerprinter.close()
    if not any(s.error is None or s.have or any(feed.have for feed, _ in s.feeds)
               for s in heard.values()):  # every stream failed before a sample decoded
        return Heard(UNDECODABLE, (), "; ".join(why), listened)
    return Heard(PARTIAL if why else OK, fingerprints, "; ".join(why) or None, listened)


def _listened(feed: Feed, index: int, stream: _Stream, late: bool) -> StreamValue:
    """The listener's value, or none when the stream gave it no audio because it failed or
    time ran out (not heard is not silence)."""
    value = feed.value(index)
    if value.error is None and not feed.have and (stream.error or late):
        return StreamValue(index, 0.0, None, stream.error or "the soundtrack's time share ran "
                           "out before any audio")
    return value


def _feed(listener: AudioListener, max_s: float) -> Feed:
    rate = listener.sample_rate
    return Feed(listener, listener.sink(),
                sys.maxsize if math.isinf(max_s) else max(0, math.floor(max_s * rate)))


def _demux(container: av.container.InputContainer, heard: dict[int, _Stream],
           deadline: float | None) -> bool:
    """One pass over the heard streams' packets; True when the deadline cut it short."""
    try:
        for packet in container.demux(*(s.stream for s in heard.values())):
            state = heard.get(packet.stream.index)
            if state is None or state.done:
                continue
            try:
                state.decoded([frame for frame in packet.decode()
                               if isinstance(frame, av.AudioFrame)])
            except (av.FFmpegError, FingerprintError, ValueError) as exc:
                state.error = f"does not decode ({exc})"
            if all(s.done for s in heard.values()):
                return False
            if deadline is not None and time.monotonic() > deadline:
                return True
    except (av.FFmpegError, ValueError, OSError) as exc:  # the container itself broke off
        for s in heard.values():
            if not s.done:
                s.error = f"demuxing stopped ({exc})"
        return False
    for s in heard.values():
        if not s.done:
            try:
                s.decoded([None])
            except (av.FFmpegError, FingerprintError, ValueError) as exc:
                s.error = f"does not decode ({exc})"
    return False
