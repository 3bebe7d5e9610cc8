"""The killable decode worker pool: one video's crash, hang or memory blow-up stays its own.

FFmpeg can SIGSEGV on truncated input or spin on hostile media, and PyAV's timeouts cover
only I/O, so each extraction runs in a worker process with an address-space limit
(`decode.memory_limit_mb`) and a wall-clock limit (`decode.timeout_s`) enforced by the parent.
A worker that dies or overruns is killed and replaced; its video fails with a typed
`MediaError` and the next video runs on a fresh worker. Frames come back through shared
memory that the parent creates and always unlinks; only small metadata is pickled.

Workers come from a forkserver that has already imported PyAV and numpy: replacing a worker
costs a fork, and the parent's own threads (librdkafka, gRPC) are never forked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.shared_memory import SharedMemory
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from consumer.media.errors import (
    DecodeCrashed,
    DecodeFailed,
    DecodeOutOfMemory,
    DecodeTimeout,
    ExtractorClosed,
    ExtractorQueueFull,
    MediaRejected,
)
from consumer.media.extract import Keyframes, extract_keyframes
from consumer.media.resize import ResizeSpec
from consumer.settings import DecodeSettings, SourceSettings

log = logging.getLogger(__name__)

# What a worker runs for one video; tests substitute functions that crash or hang.
Task = Callable[[str, Sequence[ResizeSpec], DecodeSettings, SourceSettings], Keyframes]

_STOP_WAIT_S = 2.0
_segment_ids = itertools.count()


def segment_prefix() -> str:
    """Names of this process's frame segments start with this (leaks are attributable)."""
    return f"vmc-frames-{os.getpid()}-"


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["av", "numpy", "consumer.media.extract"])
        return ctx
    return multiprocessing.get_context("spawn")


def frames_nbytes(specs: Sequence[ResizeSpec], max_keyframes: int) -> int:
    """Shared memory one video can need: every spec's [N, size, size, 3] uint8 block."""
    return max_keyframes * sum(spec.size * spec.size * 3 for spec in specs)


def _limit_memory(limit_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the wall-clock limit still applies
        return
    limit = limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _worker_main(conn: Connection, decode: DecodeSettings, source: SourceSettings,
                 task: Task) -> None:
    """Serve jobs until told to stop or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    _limit_memory(decode.memory_limit_mb)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        uri, specs, shm_name = job
        try:
            result = task(uri, specs, decode, source)
            conn.send(("ok", _to_shared(result, specs, shm_name)))
        except MediaRejected as exc:
            conn.send(("error", exc))
        except MemoryError as exc:
            conn.send(("error", DecodeOutOfMemory(
                f"out of memory (decode.memory_limit_mb={decode.memory_limit_mb}): {exc}")))
        except Exception as exc:  # a bug or an unmapped library error: still one video only
            conn.send(("error", DecodeFailed(f"{type(exc).__name__}: {exc}")))


def _to_shared(result: Keyframes, specs: Sequence[ResizeSpec],
               shm_name: str) -> tuple[Keyframes, list[tuple[ResizeSpec, int, int]]]:
    """Copy the frames into the parent's shared memory; return the rest to pickle."""
    shm = SharedMemory(name=shm_name)
    try:
        layout: list[tuple[ResizeSpec, int, int]] = []
        offset = 0
        for spec in dict.fromkeys(specs):
            array = np.ascontiguousarray(result.frames[spec])
            target: npt.NDArray[np.uint8] = np.ndarray(
                array.shape, np.uint8, buffer=shm.buf, offset=offset)
            target[...] = array
            del target
            layout.append((spec, offset, len(array)))
            offset += array.nbytes
        return dataclasses.replace(result, frames={}), layout
    finally:
        shm.close()


def _from_shared(meta: tuple[Keyframes, list[tuple[ResizeSpec, int, int]]],
                 shm: SharedMemory) -> Keyframes:
    result, layout = meta
    frames: dict[ResizeSpec, npt.NDArray[np.uint8]] = {}
    for spec, offset, count in layout:
        shape = (count, spec.size, spec.size, 3)
        view: npt.NDArray[np.uint8] = np.ndarray(shape, np.uint8, buffer=shm.buf, offset=offset)
        frames[spec] = view.copy()  # own the pixels: the segment is unlinked right after
        del view
    return dataclasses.replace(result, frames=frames)


@dataclass
class _Job:
    uri: str
    specs: tuple[ResizeSpec, ...]
    future: Future[Keyframes]


class _Worker:
    """One worker process and its pipe; restarted whenever it dies or is killed."""

    def __init__(self, ctx: Any, decode: DecodeSettings, source: SourceSettings,
                 task: Task) -> None:
        self._ctx = ctx
        self._args = (decode, source, task)
        self._decode = decode
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, *self._args),
                                    name="vmc-decode", daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent

    def run(self, job: _Job) -> Keyframes:
        if self._process is None or not self._process.is_alive():
            self.start()
        assert self._conn is not None
        size = max(1, frames_nbytes(job.specs, self._decode.max_keyframes))
        shm = SharedMemory(name=f"{segment_prefix()}{next(_segment_ids)}", create=True,
                           size=size)
        try:
            self._conn.send((job.uri, job.specs, shm.name))
            if not self._conn.poll(self._decode.timeout_s):
                self.kill()
                raise DecodeTimeout(
                    f"no result within decode.timeout_s={self._decode.timeout_s}; worker killed")
            try:
                status, payload = self._conn.recv()
            except (EOFError, OSError):
                raise self._death() from None
            if status == "error":
                raise payload
            return _from_shared(payload, shm)
        finally:
            shm.close()
            shm.unlink()

    def _death(self) -> MediaRejected:
        """The error for a worker that died mid-video (it is reaped; the next run restarts)."""
        assert self._process is not None
        self._process.join(_STOP_WAIT_S)
        code = self._process.exitcode
        self.kill()
        if code == -signal.SIGKILL:
            return DecodeOutOfMemory("worker killed by SIGKILL (most likely the kernel's "
                                     "out-of-memory killer)")
        if code is not None and code < 0:
            return DecodeCrashed(f"worker died from {signal.Signals(-code).name}")
        return DecodeCrashed(f"worker exited with status {code}")

    def kill(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(_STOP_WAIT_S)
            self._process.close()
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def stop(self) -> None:
        if self._conn is not None and self._process is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._process.join(_STOP_WAIT_S)
        self.kill()


class KeyframeExtractor:
    """A bounded pool of `decode.workers` isolated worker processes.

    `submit` returns a future at once, or raises `ExtractorQueueFull` when `decode.queue_size`
    videos already wait: the caller backs off instead of queueing without bound.
    """

    def __init__(self, decode: DecodeSettings, source: SourceSettings,
                 task: Task = extract_keyframes) -> None:
        ctx = _context()
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=decode.queue_size)
        self._closed = threading.Event()
        self._workers = [_Worker(ctx, decode, source, task) for _ in range(decode.workers)]
        for worker in self._workers:
            worker.start()
        self._threads = [
            threading.Thread(target=self._serve, args=(worker,), name=f"vmc-decode-{i}",
                             daemon=True)
            for i, worker in enumerate(self._workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def restarts(self) -> int:
        """Workers started again after a crash, kill or timeout (for a crash-loop alert)."""
        return sum(max(0, worker.starts - 1) for worker in self._workers)

    @property
    def pending(self) -> int:
        """Videos waiting for a worker (for a gauge next to `decode.queue_size`)."""
        return self._queue.qsize()

    def submit(self, uri: str, specs: Sequence[ResizeSpec]) -> Future[Keyframes]:
        if self._closed.is_set():
            raise ExtractorClosed("the keyframe extractor is closed")
        future: Future[Keyframes] = Future()
        try:
            self._queue.put_nowait(_Job(uri, tuple(specs), future))
        except queue.Full:
            raise ExtractorQueueFull(
                f"{self._queue.maxsize} videos already wait (decode.queue_size)") from None
        return future

    def close(self) -> None:
        """Fail what still waits, let running videos finish, stop the workers."""
        if self._closed.is_set():
            return
        self._closed.set()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(ExtractorClosed("closed before this video ran"))
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> KeyframeExtractor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _serve(self, worker: _Worker) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(worker.run(job))
            except MediaRejected as exc:
                job.future.set_exception(exc)
            except Exception as exc:  # the pool itself failed (pipe, shm): fail this video
                log.exception("decode worker failed outside the video")
                job.future.set_exception(DecodeFailed(f"worker error: {exc}"))
                worker.kill()
