"""Content tags for search and recommendation: label coverage plus technical facts. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

BLACK_MEAN_LUMA = 16.0
STATIC_MEAN_ABS_DIFF = 2.0


@dataclass(frozen=True)
class LabelTag:
    """A label seen in the video: peak score, share of keyframes over the floor, first/last."""

    model: str
    label: str
    score: float
    coverage: float
    first_s: float
    last_s: float


def label_tags(model: str, scores: npt.NDArray[np.float32], labels: Sequence[str],
               pts_s: Sequence[float], min_score: float) -> list[LabelTag]:
    """One tag per label reaching `min_score` on at least one keyframe, best first."""
    out = []
    for index, label in enumerate(labels):
        column = scores[:, index]
        hits = np.flatnonzero(column >= min_score)
        if hits.size == 0:
            continue
        out.append(LabelTag(model, label, round(float(column.max()), 6),
                            round(hits.size / len(pts_s), 6),
                            float(pts_s[hits[0]]), float(pts_s[hits[-1]])))
    return sorted(out, key=lambda t: (-t.score, t.label))


def black_keyframes(frames: Any, pts_s: Sequence[float]) -> list[float]:
    """Times of keyframes that are (nearly) black: mean of all channels below 16."""
    means = _row_means(frames)
    return [float(pts_s[i]) for i in np.flatnonzero(means < BLACK_MEAN_LUMA)]


def is_static(frames: Any) -> bool:
    """A still image or slideshow-like video: consecutive keyframes barely differ."""
    if len(frames) < 2:
        return False
    if isinstance(frames, np.ndarray):
        as_int = frames.astype(np.int16)
        diffs = np.abs(np.diff(as_int, axis=0))
    else:  # a device tensor (GPU node mode): only the per-frame means come back
        diffs = (frames[1:].short() - frames[:-1].short()).abs()
    return bool(np.all(_row_means(diffs) < STATIC_MEAN_ABS_DIFF))


def _row_means(frames: Any) -> npt.NDArray[np.float64]:
    """Mean of each frame ([N, ...] numpy array or torch tensor) as a host vector."""
    if isinstance(frames, np.ndarray):
        return np.asarray(frames.reshape(len(frames), -1).mean(axis=1), np.float64)
    import torch  # a device tensor: torch is loaded already

    flat = frames.reshape(len(frames), -1)  # summed in int64, never copied as floats
    sums = flat.sum(dim=1, dtype=torch.int64).cpu().numpy()
    return np.asarray(sums / int(flat.shape[1]), np.float64)
