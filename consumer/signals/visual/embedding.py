"""One vector per video for search and recommendation: every frame's embedding L2-normalised,
averaged, normalised again, and sent as float16 (2 bytes a value, base64 in JSON).

Two videos compare by the dot product of their vectors (their cosine similarity): near 1 the
same picture, re-encoded or cropped; unrelated videos score far lower (BENCHMARKS.md,
"Visual tags"). A frame whose embedding is missing or not finite is left out; a video with
none has no vector (None)."""

from __future__ import annotations

import base64

import numpy as np
import numpy.typing as npt

DTYPE = "float16"


def video_vector(frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float32] | None:
    """[N, D] per-frame embeddings -> the unit-length mean of their unit-length rows."""
    if frames.ndim != 2:
        raise ValueError(f"embeddings of shape {frames.shape}, expected [frames, values]")
    rows = frames[np.all(np.isfinite(frames), axis=1)]
    norms = np.linalg.norm(rows, axis=1)
    rows = rows[norms > 0] / norms[norms > 0, None]
    if not len(rows):
        return None
    mean = rows.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


def encode(vector: npt.NDArray[np.float32]) -> str:
    """Little-endian float16, base64."""
    return base64.b64encode(vector.astype("<f2").tobytes()).decode("ascii")


def decode(text: str) -> npt.NDArray[np.float32]:
    """`encode`'s text -> the float32 vector (what a reader of the embeddings topic runs)."""
    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32)


def cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Cosine similarity of two video vectors (1: same direction, 0: unrelated)."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
