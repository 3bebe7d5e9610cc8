"""Frames as the pipeline carries them: host arrays, or torch tensors on the GPU that decoded
them (GPU node mode with CUDA shared memory). Nothing here imports torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch

Pixels: TypeAlias = "npt.NDArray[np.uint8] | torch.Tensor"


def on_host(pixels: Any) -> npt.NDArray[np.uint8]:
    """Frames (or anything array-like) as a host array; a torch tensor is copied off its
    device."""
    if hasattr(pixels, "cpu"):  # torch
        pixels = pixels.cpu().numpy()
    return cast(npt.NDArray[np.uint8], np.asarray(pixels))
