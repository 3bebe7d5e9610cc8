"""Per-frame class scores -> what a video shows: each class (and coarse word) that reached the
least score on some frame, with its peak and mean score, the share of frames where it did, and
the first and last time it did. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class VisualLabel:
    label: str
    peak: float  # highest score on a frame
    mean: float  # mean score over every analysed frame
    share: float  # share of analysed frames where the score reached the least score
    first_s: float  # first and last frame time (s) where it did
    last_s: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def aggregate(scores: npt.NDArray[np.float32], names: Sequence[str], pts_s: Sequence[float],
              min_score: float, limit: int) -> list[VisualLabel]:
    """[N, C] scores (columns named by `names`) -> the labels that reached `min_score` on some
    frame, highest peak first, at most `limit`; non-finite scores count as 0."""
    if scores.ndim != 2 or scores.shape != (len(pts_s), len(names)):
        raise ValueError(f"scores {scores.shape} for {len(pts_s)} frames, {len(names)} labels")
    if not len(pts_s):
        return []
    finite = np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
    peaks = finite.max(axis=0)
    found = [int(i) for i in np.argsort(-peaks, kind="stable") if peaks[i] >= min_score][:limit]
    out = []
    for column in found:
        hits = np.flatnonzero(finite[:, column] >= min_score)
        out.append(VisualLabel(names[column], round(float(peaks[column]), 4),
                               round(float(finite[:, column].mean()), 4),
                               round(len(hits) / len(pts_s), 4),
                               round(float(pts_s[hits[0]]), 3), round(float(pts_s[hits[-1]]), 3)))
    return out


# A class adds to its coarse word only from this score on (50 times the uniform 0.001). A
# frame the model does not recognise spreads its softmax flat, and `animal` holds 398 of the
# 1000 classes: summed unfloored, a grey frame scored animal 0.40, a black one 0.25, a caption
# on blue 0.23 and noise 0.67, all above the least score (signals.visual.min_score 0.2).
CLASS_FLOOR = 0.05


def coarse_scores(scores: npt.NDArray[np.float32],
                  vocabulary: Mapping[str, Sequence[int]],
                  class_floor: float = CLASS_FLOOR) -> tuple[npt.NDArray[np.float32], list[str]]:
    """[N, 1000] class scores -> [N, W] coarse word scores (the sum of the word's classes that
    reach `class_floor`, softmax scores being shares of one), and the words in column order."""
    finite = np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
    finite = np.where(finite >= class_floor, finite, 0.0)
    words = list(vocabulary)
    summed = np.stack([finite[:, list(vocabulary[w])].sum(axis=1) for w in words], axis=1) \
        if words else np.zeros((len(scores), 0), np.float32)
    return np.clip(summed, 0.0, 1.0).astype(np.float32), words
