"""Per-frame speech probabilities -> speech segments and the share they cover. Pure.

The rule is Silero VAD's own (`get_speech_timestamps`, without its maximum-length split): a
segment starts at a frame at or over `threshold`, survives dips above `threshold - 0.15`, and
ends where the probability stayed under that for `min_silence_s`; segments shorter than
`min_speech_s` are dropped, each is padded by `pad_s` and overlapping ones merge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FRAME_SAMPLES = 512  # Silero VAD's frame at 16 kHz: 32 ms
SAMPLE_RATE = 16000
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE

Segment = tuple[float, float]


def speech_segments(probabilities: npt.NDArray[np.float32], total_s: float, *,
                    threshold: float = 0.5, min_speech_s: float = 0.25,
                    min_silence_s: float = 0.1, pad_s: float = 0.03) -> list[Segment]:
    """The speech segments (start_s, end_s) of a stream of `total_s` seconds."""
    low = max(threshold - 0.15, 0.01)
    found: list[Segment] = []
    start: float | None = None
    quiet_from: float | None = None
    for index, probability in enumerate(np.asarray(probabilities, dtype=np.float32)):
        at = index * FRAME_S
        if probability >= threshold:
            quiet_from = None
            if start is None:
                start = at
            continue
        if start is None or probability >= low:
            continue
        if quiet_from is None:
            quiet_from = at
        if at - quiet_from >= min_silence_s:
            if quiet_from - start >= min_speech_s:
                found.append((start, quiet_from))
            start = quiet_from = None
    if start is not None and total_s - start >= min_speech_s:
        found.append((start, total_s))
    return merged([(max(0.0, a - pad_s), min(total_s, b + pad_s)) for a, b in found])


def merged(segments: Sequence[Segment]) -> list[Segment]:
    """Sorted, with overlapping or touching segments joined."""
    out: list[Segment] = []
    for start, end in sorted(segments):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def covered_s(segments: Sequence[Segment]) -> float:
    """Seconds covered by the union of the segments."""
    return sum(end - start for start, end in merged(segments))
