"""Per-stream audio computations a signal asks the decode worker for (`Needs.listeners`).

The worker already decodes every heard audio stream once (consumer.media.soundtrack); a
signal that wants more of it than a Chromaprint fingerprint (speech activity, loudness) hands
over a picklable `AudioListener`. For each stream the worker starts one of its `AudioSink`s,
feeds it mono 16-bit PCM at the listener's `sample_rate` as the audio decodes (bounded by the
soundtrack's limits, never held whole), and ships back `finish()`'s small, picklable value.
Media knows no signal: a listener is named by its signal, and its value is read back by it.
A sink that raises loses that stream's value only (`StreamValue.error`), never the video.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt


class AudioSink(Protocol):
    """One stream's computation, in the worker."""

    def feed(self, samples: npt.NDArray[np.int16]) -> None: ...

    def finish(self) -> Any:
        """The value sent back (small and picklable)."""


class AudioListener(Protocol):
    """What a signal asks to hear: picklable (it travels to the workers in DecodeConfig)."""

    @property
    def name(self) -> str:
        """The signal's name: its values come back under it."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def max_streams(self) -> int:
        """How many of the heard streams it takes, in hearing order (default-flagged first)."""

    def sink(self) -> AudioSink: ...


@dataclass(frozen=True)
class StreamValue:
    """One listener's value for one audio stream (`stream`: its index in the container),
    `heard_s` of audio fed to it; `error` when its sink failed (then `value` is None)."""

    stream: int
    heard_s: float
    value: Any = None
    error: str | None = None


@dataclass
class Feed:
    """A sink fed at its rate up to `limit` samples; its resampler is its own."""

    listener: AudioListener
    sink: AudioSink
    limit: int
    have: int = 0
    cut: bool = False
    error: str | None = None

    def take(self, samples: npt.NDArray[np.int16]) -> None:
        if self.cut or self.error is not None:
            return
        room = self.limit - self.have
        if samples.size > room:
            samples, self.cut = samples[:room], True
        try:
            self.sink.feed(samples)
        except Exception as exc:  # a listener's own failure loses its value only
            self.error = f"{type(exc).__name__}: {exc}"
        self.have += samples.size

    def value(self, stream: int) -> StreamValue:
        heard_s = self.have / self.listener.sample_rate
        if self.error is None:
            try:
                return StreamValue(stream, heard_s, self.sink.finish())
            except Exception as exc:  # as in take
                self.error = f"{type(exc).__name__}: {exc}"
        return StreamValue(stream, heard_s, None, self.error)
