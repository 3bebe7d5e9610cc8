"""The killable decode worker pool: one video's crash, hang or memory blow-up stays its own.

FFmpeg can SIGSEGV on truncated input or spin on hostile media, and PyAV's timeouts cover
only I/O, so each extraction runs in a worker process with an address-space limit
(`decode.memory_limit_mb`) and a wall-clock limit (`decode.timeout_s`) enforced by the parent.
A worker that dies or overruns is killed and replaced; its video fails with a typed
`MediaError` and the next video runs on a fresh worker. Frames come back through shared
memory sized by what was decoded, which the parent creates and always unlinks; only small
metadata is pickled.

Workers come from a forkserver that has already imported PyAV and numpy: replacing a worker
costs a fork, and the parent's own threads (librdkafka, gRPC) are never forked.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.shared_memory import SharedMemory
from types import TracebackType
from typing import Any

from consumer.errors import (
    ConsumerError,
    DecodeCrashed,
    DecodeFailed,
    DecodeOutOfMemory,
    DecodeTimeout,
    ExtractorClosed,
    ExtractorQueueFull,
    MediaError,
)
from consumer.media import frame_segments
from consumer.media.config import DecodeConfig
from consumer.media.extract import Keyframes, extract_keyframes, keep_frames_on_device
from consumer.media.resize import ResizeSpec
from consumer.settings import SourceSettings

log = logging.getLogger(__name__)

# What a worker runs for one video; tests substitute functions that crash or hang.
Task = Callable[[str, Sequence[ResizeSpec], DecodeConfig, SourceSettings], Keyframes]

_STOP_WAIT_S = 2.0


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["av", "numpy", "consumer.media.extract"])
        return ctx
    return multiprocessing.get_context("spawn")


def _limit_memory(limit_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the wall-clock limit still applies
        return
    limit = limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _worker_main(conn: Connection, decode: DecodeConfig, source: SourceSettings,
                 task: Task, arena: Any = None) -> None:
    """Serve jobs until told to stop or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    if not decode.nvdec:  # CUDA reserves address space far beyond any such limit
        _limit_memory(decode.limits.memory_limit_mb)
    if arena is not None:
        keep_frames_on_device()
    while _serve_one(conn, decode, source, task, arena):
        pass


def _serve_one(conn: Connection, decode: DecodeConfig, source: SourceSettings,
               task: Task, arena: Any = None) -> bool:
    """One video: ("size", nbytes) once decoded, then the frames into the segment the parent
    names (None: it could not create one and failed the video) and ("ok", metadata); or
    ("error", exc). The segment is sized after decoding, so a large `sampling.max_keyframes`
    never reserves memory the video does not fill. With a device arena (GPU node mode, CUDA
    shared memory to Triton) the frames go there instead: ("arena", metadata).
    False when the worker should exit."""
    try:
        job = conn.recv()
    except (EOFError, OSError):
        return False
    if job is None:
        return False
    uri, specs = job
    unique = list(dict.fromkeys(specs))
    try:
        result = task(uri, specs, decode, source)
        nbytes = sum(len(result.frames[spec]) * frame_segments.frame_nbytes(spec)
                     for spec in unique)
    except Exception as exc:
        conn.send(("error", _as_media_error(exc, decode)))
        return True
    in_arena = None
    if arena is not None:
        from consumer.media.device_frames import into_arena

        in_arena = into_arena(result, unique, arena)
    if in_arena is not None:
        conn.send(("arena", in_arena))
        return True
    conn.send(("size", nbytes))
    try:
        name = conn.recv()
    except (EOFError, OSError):
        return False
    if name is None:
        return True
    try:
        conn.send(("ok", frame_segments.to_shared(result, unique, name)))
    except Exception as exc:
        if _is_out_of_memory(exc):
            exc = DecodeOutOfMemory(f"cannot map the frame segment of {nbytes} bytes within "
                                    f"decode.memory_limit_mb={decode.limits.memory_limit_mb}: "
                                    f"{exc}")
        conn.send(("error", _as_media_error(exc, decode)))
    return True


def _as_media_error(exc: Exception, decode: DecodeConfig) -> MediaError:
    if isinstance(exc, MediaError):
        return exc
    if _is_out_of_memory(exc):
        return DecodeOutOfMemory(
            f"out of memory (decode.memory_limit_mb={decode.limits.memory_limit_mb}): {exc}")
    return DecodeFailed(f"{type(exc).__name__}: {exc}")  # a bug or an unmapped library error


def _is_out_of_memory(exc: Exception) -> bool:
    return isinstance(exc, MemoryError) or (isinstance(exc, OSError)
                                            and exc.errno == errno.ENOMEM)


@dataclass
class _Job:
    uri: str
    specs: tuple[ResizeSpec, ...]
    future: Future[Keyframes]


class _Worker:
    """One worker process and its pipe; restarted whenever it dies or is killed.

    Only the serving thread runs videos and replaces the process; `interrupt` (the closing
    thread) only signals it, under `_lock`, so it never races a restart or a close of the pipe.
    """

    def __init__(self, ctx: Any, decode: DecodeConfig, source: SourceSettings,
                 task: Task, arena: Any = None) -> None:
        self._ctx = ctx
        self._args = (decode, source, task, arena)
        self._arena = arena  # the parent's device arena this worker writes frames into
        self._decode = decode
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._busy = False
        self._interrupted = False
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, *self._args),
                                    name="vmc-decode", daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent
        self._interrupted = False

    def run(self, job: _Job, closed: threading.Event) -> Keyframes:
        with self._lock:
            if closed.is_set():  # closed after this job left the queue: never start it
                raise ExtractorClosed("closed before this video ran")
            if self._process is None or not self._process.is_alive():
                self.start()
            self._busy = True
        deadline = time.monotonic() + self._decode.limits.timeout_s
        shm: SharedMemory | None = None
        try:
            self._send((job.uri, job.specs))
            status, payload = self._receive(deadline)
            if status == "size":
                try:
                    shm = frame_segments.create_segment(payload)
                except DecodeOutOfMemory:
                    assert self._conn is not None
                    with contextlib.suppress(OSError):  # a dead worker is noticed next run
                        self._conn.send(None)  # it drops the frames and waits for more
                    raise
                self._send(shm.name)
                status, payload = self._receive(deadline)
            if status == "error":
                raise payload
            if status == "arena":
                from consumer.media.device_frames import out_of_arena

                return out_of_arena(payload, self._arena)
            assert shm is not None
            return frame_segments.from_shared(payload, shm)
        finally:
            with self._lock:
                self._busy = False
            if shm is not None:
                # After any kill above: no live worker can still map the name.
                frame_segments.release(shm)

    def _send(self, message: Any) -> None:
        assert self._conn is not None
        try:
            self._conn.send(message)
        except OSError:
            raise self._death() from None

    def _receive(self, deadline: float) -> Any:
        assert self._conn is not None
        try:
            if self._conn.poll(max(0.0, deadline - time.monotonic())):
                return self._conn.recv()
        except (EOFError, OSError):
            raise self._death() from None
        self.kill()
        raise DecodeTimeout(
            f"no result within decode.timeout_s={self._decode.limits.timeout_s}; worker killed")

    def _death(self) -> ConsumerError:
        """The error for a worker that died mid-video (it is reaped; the next run restarts)."""
        assert self._process is not None
        self._process.join(_STOP_WAIT_S)
        code = self._process.exitcode
        interrupted = self._interrupted
        self.kill()
        if interrupted:
            return ExtractorClosed("closed while this video ran; worker killed")
        if code == -signal.SIGKILL:
            return DecodeOutOfMemory("worker killed by SIGKILL (most likely the kernel's "
                                     "out-of-memory killer)")
        if code is not None and code < 0:
            return DecodeCrashed(f"worker died from {signal.Signals(-code).name}")
        return DecodeCrashed(f"worker exited with status {code}")

    def interrupt(self) -> None:
        """SIGKILL the worker if it runs a video: a slow source must not hold up shutdown.
        The serving thread sees the pipe close and fails that video with `ExtractorClosed`."""
        with self._lock:
            if self._busy and self._process is not None:
                self._interrupted = True
                self._process.kill()

    def kill(self) -> None:
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(_STOP_WAIT_S)
            process.close()
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        if self._conn is not None and self._process is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._process.join(_STOP_WAIT_S)
        self.kill()


class KeyframeExtractor:
    """A bounded pool of `workers.count` isolated worker processes, plus, in GPU node mode
    (`gpu.decode` nvdec), `gpu.nvdec_workers` that decode on NVDEC; all serve one queue.

    With `arena` (a factory of device arenas, `triton.shared_memory` cuda), each NVDEC worker
    hands its frames over in device memory; the Keyframes' frames are then device tensors.

    `submit` returns a future at once, or raises `ExtractorQueueFull` when `workers.queue_size`
    videos already wait: the caller backs off instead of queueing without bound.
    """

    def __init__(self, decode: DecodeConfig, source: SourceSettings,
                 task: Task = extract_keyframes,
                 arena: Callable[[], Any] | None = None) -> None:
        if decode.nvdec:  # no GPU or NVDEC: one line, before any worker starts
            from consumer.media.nvdec import check_available

            check_available(decode.gpu.id)
        ctx = _context()
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=decode.workers.queue_size)
        self._closed = threading.Event()
        cpu = decode.on_cpu()
        self._workers = [_Worker(ctx, cpu, source, task) for _ in range(decode.workers.count)]
        if decode.nvdec:
            self._workers += [_Worker(ctx, decode, source, task,
                                      arena() if arena is not None else None)
                              for _ in range(decode.gpu.nvdec_workers)]
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
        """Videos waiting for a worker (for a gauge next to `workers.queue_size`)."""
        return self._queue.qsize()

    def submit(self, uri: str, specs: Sequence[ResizeSpec]) -> Future[Keyframes]:
        if self._closed.is_set():
            raise ExtractorClosed("the keyframe extractor is closed")
        future: Future[Keyframes] = Future()
        try:
            self._queue.put_nowait(_Job(uri, tuple(specs), future))
        except queue.Full:
            raise ExtractorQueueFull(
                f"{self._queue.maxsize} videos already wait (workers.queue_size)") from None
        return future

    def close(self) -> None:
        """Fail what still waits, kill the workers still running a video, stop the rest.

        Running videos are not waited for: a worker reading a slow source could hold shutdown
        for `source.read_timeout_s` or `decode.timeout_s`, past the drain grace. Their futures
        fail with `ExtractorClosed`, so the pipeline leaves them uncommitted.
        """
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
        for worker in self._workers:
            worker.interrupt()
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
                job.future.set_result(worker.run(job, self._closed))
            except (MediaError, ExtractorClosed) as exc:
                job.future.set_exception(exc)
            except Exception as exc:  # the pool itself failed (pipe, shm): fail this video
                log.exception("decode worker failed outside the video")
                job.future.set_exception(DecodeFailed(f"worker error: {exc}"))
                worker.kill()
