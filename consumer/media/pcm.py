"""A recording's audio as Chromaprint wants it: mono 16-bit PCM at 11025 Hz, whole (for
building catalogues from reference recordings; an upload's streams are fingerprinted as they
decode, never held as PCM: consumer.media.soundtrack).

Decoding stops at `max_duration_s` of audio, so a long or hostile file costs bounded memory
(11025 samples, 22 kB, per second) whatever its declared duration. FFmpeg errors are not
translated here: the caller decides whether a broken soundtrack fails the video or only the
music signal.
"""

from __future__ import annotations

import math
import os
import sys
import time

import av
import av.container
import numpy as np
import numpy.typing as npt

from consumer.media.chromaprint import SAMPLE_RATE


def soundtrack_pcm(container: av.container.InputContainer, max_duration_s: float,
                   deadline: float | None = None) -> npt.NDArray[np.int16] | None:
    """The first audio stream from the container's current position (pass a freshly opened
    one), mixed to mono and resampled; None when there is no audio stream. Decoding stops at
    `deadline` (time.monotonic()) with what it has: the caller tells a cut soundtrack."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    limit = sys.maxsize if math.isinf(max_duration_s) else \
        max(0, math.floor(max_duration_s * SAMPLE_RATE))
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[npt.NDArray[np.int16]] = []
    have = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            chunks.append(_samples(out))
            have += chunks[-1].size
        if have >= limit or (deadline is not None and time.monotonic() > deadline):
            break
    else:
        chunks.extend(_samples(out) for out in resampler.resample(None))
    if not chunks:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(chunks)[:limit].astype(np.int16, copy=False)


def _samples(frame: av.AudioFrame) -> npt.NDArray[np.int16]:
    return np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)


def file_pcm(path: str | os.PathLike[str],
             max_duration_s: float = math.inf) -> npt.NDArray[np.int16] | None:
    """A local file's soundtrack (for building catalogues); None when it has no audio."""
    with av.open(os.fspath(path)) as container:
        return soundtrack_pcm(container, max_duration_s)
