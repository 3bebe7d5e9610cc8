"""Frames from an NVDEC worker to the parent without leaving the GPU (`triton.shared_memory`
cuda): one device arena per worker, owned by the parent.

The parent allocates the arena and hands it to the worker at start (torch shares it by CUDA
IPC handle); the worker copies a video's resized frames in and pickles only where each block
sits; the parent clones them into its own device tensors before the worker's next video. The
parent owns the memory, so a worker killed mid-copy (hostile media, timeout) leaves nothing
dangling: the next worker gets the same arena. A video whose frames do not fit goes through
host shared memory as on a CPU node.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.multiprocessing  # registers torch's tensor sharing with pickling

from consumer.errors import DecodeFailed, DecodeOutOfMemory
from consumer.media.extract import Keyframes
from consumer.media.frame_segments import Layout, frame_nbytes
from consumer.media.resize import ResizeSpec

log = logging.getLogger("consumer.media.workers")


def arena_nbytes(specs: Sequence[ResizeSpec], max_keyframes: int) -> int:
    """Room for the most frames one video may yield, at every model's input size."""
    return max_keyframes * sum(frame_nbytes(spec) for spec in dict.fromkeys(specs))


def allocate(nbytes: int, device: str) -> torch.Tensor:
    """An arena on `device` (`cuda:N`; `cpu` in tests), shareable with a worker process."""
    arena = torch.empty(nbytes, dtype=torch.uint8, device=device)
    return arena if arena.is_cuda else arena.share_memory_()  # type: ignore[no-untyped-call]


def to_arena(result: Keyframes, specs: Sequence[ResizeSpec],
             arena: torch.Tensor) -> tuple[Keyframes, Layout] | None:
    """Worker side: copy the frames into the arena (device to device for NVDEC frames) and
    return the rest to pickle; None when they do not fit."""
    sizes = [len(result.frames[spec]) * frame_nbytes(spec) for spec in specs]
    if sum(sizes) > arena.numel():
        return None
    layout: Layout = []
    offset = 0
    for spec, nbytes in zip(specs, sizes, strict=True):
        block = torch.as_tensor(result.frames[spec]).reshape(-1)
        arena[offset:offset + nbytes].copy_(block.to(arena.device))
        layout.append((spec, offset, len(result.frames[spec])))
        offset += nbytes
    if arena.is_cuda:
        torch.cuda.synchronize(arena.device)  # written before the parent reads
    return dataclasses.replace(result, frames={}), layout


def from_arena(meta: tuple[Keyframes, Layout], arena: torch.Tensor) -> Keyframes:
    """Parent side: the frames cloned out of the arena, which the worker reuses next."""
    result, layout = meta
    frames: dict[ResizeSpec, Any] = {}
    for spec, offset, count in layout:
        nbytes = count * frame_nbytes(spec)
        frames[spec] = arena[offset:offset + nbytes].view(count, spec.size, spec.size,
                                                         3).clone()
    if arena.is_cuda:
        torch.cuda.synchronize(arena.device)  # cloned before the worker overwrites it
    return dataclasses.replace(result, frames=frames)


def into_arena(result: Keyframes, specs: Sequence[ResizeSpec],
               arena: torch.Tensor) -> tuple[Keyframes, Layout] | None:
    """Worker side, never raising: `to_arena`, or None (too many frames; or a CUDA fault,
    after which the host path still delivers the video or fails it with a cause)."""
    try:
        return to_arena(result, specs, arena)
    except Exception:
        log.exception("cannot copy frames into the device arena; sending them via the host")
        return None


def out_of_arena(meta: tuple[Keyframes, Layout], arena: torch.Tensor) -> Keyframes:
    """Parent side: `from_arena`; a GPU too full beside Triton fails the video with a cause
    (its verdict says so), never the pool."""
    try:
        return from_arena(meta, arena)
    except Exception as exc:
        if "out of memory" in str(exc).lower():
            raise DecodeOutOfMemory(f"GPU memory for the frames: {exc}") from exc
        raise DecodeFailed(f"cannot copy the frames out of the device arena: {exc}") from exc
