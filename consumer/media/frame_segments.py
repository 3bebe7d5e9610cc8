"""Frames from a decode worker to the parent through one shared-memory segment per video.

The parent creates the segment, sized by what was decoded, and always unlinks it; the worker
copies the pixels in and pickles only the rest of the result and where each block sits.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
from collections.abc import Sequence
from multiprocessing.shared_memory import SharedMemory

import numpy as np
import numpy.typing as npt

from consumer.errors import DecodeOutOfMemory
from consumer.media.extract import Keyframes
from consumer.media.resize import ResizeSpec
from consumer.pixels import on_host

log = logging.getLogger("consumer.media.workers")

# Where each spec's [count, size, size, 3] block sits in the segment: (spec, offset, count).
Layout = list[tuple[ResizeSpec, int, int]]

_segment_ids = itertools.count()


def segment_prefix() -> str:
    """Names of this process's frame segments start with this (leaks are attributable)."""
    return f"vmc-frames-{os.getpid()}-"


def frame_nbytes(spec: ResizeSpec) -> int:
    return spec.size * spec.size * 3


def to_shared(result: Keyframes, specs: Sequence[ResizeSpec], shm_name: str,
               ) -> tuple[Keyframes, Layout]:
    """Copy the frames into the parent's segment; return the rest to pickle."""
    shm = SharedMemory(name=shm_name)
    try:
        layout: Layout = []
        offset = 0
        for spec in specs:
            count = len(result.frames[spec])
            target: npt.NDArray[np.uint8] = np.ndarray(
                (count, spec.size, spec.size, 3), np.uint8, buffer=shm.buf, offset=offset)
            target[...] = on_host(result.frames[spec])
            del target
            layout.append((spec, offset, count))
            offset += count * frame_nbytes(spec)
        return dataclasses.replace(result, frames={}), layout
    finally:
        shm.close()


def from_shared(meta: tuple[Keyframes, Layout], shm: SharedMemory) -> Keyframes:
    result, layout = meta
    frames: dict[ResizeSpec, npt.NDArray[np.uint8]] = {}
    for spec, offset, count in layout:
        shape = (count, spec.size, spec.size, 3)
        view: npt.NDArray[np.uint8] = np.ndarray(shape, np.uint8, buffer=shm.buf, offset=offset)
        frames[spec] = view.copy()  # own the pixels: the segment is unlinked right after
        del view
    return dataclasses.replace(result, frames=frames)


def create_segment(nbytes: int) -> SharedMemory:
    """A segment of exactly `nbytes`, its pages allocated now: on a full /dev/shm (a tmpfs) a
    sparse segment would SIGBUS the worker mid-copy instead of failing here with a cause."""
    try:
        shm = SharedMemory(name=f"{segment_prefix()}{next(_segment_ids)}", create=True,
                           size=max(1, nbytes))
    except OSError as exc:
        raise DecodeOutOfMemory(f"cannot create a shared-memory segment of {nbytes} bytes "
                                f"for the frames: {exc}") from exc
    fd = getattr(shm, "_fd", -1)  # CPython's POSIX descriptor; absent elsewhere
    try:
        if fd >= 0 and hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, shm.size)
    except OSError as exc:
        release(shm)
        raise DecodeOutOfMemory(f"cannot allocate {nbytes} bytes of shared memory for the "
                                f"frames (is /dev/shm large enough?): {exc}") from exc
    return shm


def release(shm: SharedMemory) -> None:
    """Close and unlink a segment without raising: cleanup must not replace the video's own
    outcome. The name may already be gone (CPython unlinks it when a worker fails to map it)."""
    try:
        shm.close()
    except Exception:
        log.exception("cannot close frame segment %s", shm.name)
    try:
        shm.unlink()
    except FileNotFoundError:
        pass
    except Exception:
        log.exception("cannot unlink frame segment %s", shm.name)
