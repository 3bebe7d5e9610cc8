"""Worker tasks that misbehave on purpose; importable by worker processes (not test cases)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from consumer.media import Keyframes, ResizeSpec, extract_keyframes
from consumer.media.config import DecodeConfig
from consumer.media.probe import VideoProbe
from consumer.settings import SourceSettings


def misbehaving_task(uri: str, specs: Sequence[ResizeSpec], decode: DecodeConfig,
                     source: SourceSettings) -> Keyframes:
    """`hook:segv` crashes the worker, `hook:hang` never returns, `hook:oom` allocates past
    any sane memory limit, `hook:started:PATH` creates PATH then hangs (a test can wait until
    the video runs); `hook:segv-in-copy`, `hook:hang-in-copy` and `hook:bad-frames` decode
    fine and fail once the frame segment exists. Anything else is a normal extraction."""
    if uri == "hook:segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if uri == "hook:hang":
        time.sleep(3600)
    if uri.startswith("hook:started:"):
        Path(uri.removeprefix("hook:started:")).touch()
        time.sleep(3600)
    if uri == "hook:oom":
        hog = np.ones(16 * 1024**3, np.uint8)
        raise AssertionError(f"allocated {hog.nbytes} bytes despite the memory limit")
    if uri in ("hook:segv-in-copy", "hook:hang-in-copy"):
        return _keyframes(specs, lambda spec: _FailingPixels(uri))
    if uri == "hook:bad-frames":  # one pixel short of the size the layout promises
        return _keyframes(specs, lambda spec: np.zeros((2, spec.size, spec.size - 1, 3),
                                                       np.uint8))
    if uri.startswith("hook:torch-frames:"):  # frames as an NVDEC worker keeps them
        return device_keyframes(specs, int(uri.rsplit(":", 1)[1]))
    return extract_keyframes(uri, specs, decode, source)


def device_keyframes(specs: Sequence[ResizeSpec], count: int) -> Keyframes:
    """`count` frames per spec as torch tensors, frame i filled with i + 10 * spec index."""
    import torch

    result = _keyframes(specs, lambda spec: torch.stack([
        torch.full((spec.size, spec.size, 3), i + 10 * specs.index(spec), dtype=torch.uint8)
        for i in range(count)]))
    result.pts_s = [i * 0.5 for i in range(count)]
    return result


class _FailingPixels:
    """Two frames by their length; reading their pixels crashes or hangs the worker."""

    def __init__(self, uri: str) -> None:
        self._uri = uri

    def __len__(self) -> int:
        return 2

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        if self._uri == "hook:segv-in-copy":
            os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(3600)
        raise AssertionError("unreachable")


def _keyframes(specs: Sequence[ResizeSpec], frames: Any) -> Keyframes:
    probe = VideoProbe(duration_s=1.0, width=64, height=48, fps=2.0, codec="h264",
                       container="mp4", rotation=0, has_audio=False, bit_rate=None,
                       size_bytes=None)
    return Keyframes(probe=probe, pts_s=[0.0, 0.5],
                     frames={spec: cast(Any, frames(spec)) for spec in specs})
