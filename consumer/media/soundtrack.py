"""Every audio stream of an upload, heard: one Chromaprint fingerprint per stream.

A container may carry several audio streams (dubs, commentary, a "music only" track) and a
player lets the viewer pick any of them, whichever is flagged default: music hidden in stream 2
behind a near-silent stream 1 is still played to whoever picks it. So every audio stream is
heard, the default-flagged ones first, up to `max_streams`; each is fingerprinted on its own
(a mix would let a loud stream mask a quiet one). One demuxing pass feeds all of them, so the
time share and memory of the decode worker bound the lot: audio goes into a Chromaprint context
as it is decoded (32 bytes of fingerprint per second of audio, never the PCM), and each stream
stops at `max_s`. Whatever was not heard in full (a stream cap, the length cap, the deadline,
a stream that fails to decode) is said, so the policy can fail closed on it.
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


@dataclass
class _Stream:
    stream: av.audio.stream.AudioStream
    limit: int
    fingerprinter: Fingerprinter
    resampler: av.AudioResampler = field(default_factory=lambda: av.AudioResampler(
        format="s16", layout="mono", rate=SAMPLE_RATE))
    have: int = 0
    cut: bool = False
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.cut or self.error is not None

    def take(self, frames: list[av.AudioFrame]) -> None:
        """Feed resampled audio up to the limit; audio beyond it marks the stream cut."""
        for out in frames:
            samples = np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1)
            room = self.limit - self.have
            if samples.size > room:
                samples, self.cut = samples[:room], True
            self.fingerprinter.feed(samples)
            self.have += samples.size
            if self.cut:
                return


def audio_streams(container: av.container.InputContainer) -> list[av.audio.stream.AudioStream]:
    """The audio streams in the order they are heard: default-flagged first, then by index."""
    return sorted(container.streams.audio,
                  key=lambda s: (not (s.disposition & av.stream.Disposition.default), s.index))


def hear(container: av.container.InputContainer, max_streams: int, max_s: float,
         deadline: float | None = None) -> Heard:
    """Fingerprint up to `max_streams` audio streams from the container's current position
    (pass a freshly opened or rewound one), `max_s` seconds of each, until `deadline`
    (time.monotonic()). FFmpeg errors of one stream cut that stream only."""
    streams = audio_streams(container)
    if not streams:
        return Heard(NONE)
    limit = sys.maxsize if math.isinf(max_s) else max(0, math.floor(max_s * SAMPLE_RATE))
    heard: dict[int, _Stream] = {}
    why: list[str] = []
    try:
        for stream in streams[:max_streams]:
            heard[stream.index] = _Stream(stream, limit, Fingerprinter())
        late = _demux(container, heard, deadline)
        if len(streams) > max_streams:
            why.append(f"{len(streams)} audio streams, {max_streams} heard "
                       "(signals.music.max_audio_streams)")
        if late:
            why.append("the soundtrack's time share of decode.timeout_s ran out")
        if any(s.cut for s in heard.values()):
            why.append(f"audio beyond signals.music.max_soundtrack_s={max_s:g} not heard")
        why.extend(f"stream {i}: {s.error}" for i, s in heard.items() if s.error)
        fingerprints = tuple(StreamFingerprint(i, s.fingerprinter.finish())
                             for i, s in heard.items() if s.error is None or s.have)
    finally:
        for state in heard.values():
            state.fingerprinter.close()
    if not fingerprints:  # every stream failed before a sample decoded
        return Heard(UNDECODABLE, (), "; ".join(why))
    return Heard(PARTIAL if why else OK, fingerprints, "; ".join(why) or None)


def _demux(container: av.container.InputContainer, heard: dict[int, _Stream],
           deadline: float | None) -> bool:
    """One pass over the heard streams' packets; True when the deadline cut it short."""
    try:
        for packet in container.demux(*(s.stream for s in heard.values())):
            state = heard.get(packet.stream.index)
            if state is None or state.done:
                continue
            try:
                state.take([out for frame in packet.decode() if isinstance(frame, av.AudioFrame)
                            for out in state.resampler.resample(frame)])
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
                s.take(s.resampler.resample(None))
            except (av.FFmpegError, FingerprintError, ValueError) as exc:
                s.error = f"does not decode ({exc})"
    return False
