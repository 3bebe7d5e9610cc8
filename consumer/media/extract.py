"""From a URI to resized keyframes, in this process (the worker pool adds isolation)."""

from __future__ import annotations

import dataclasses
import errno
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import av
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame

from consumer.errors import (
    ChromaprintUnavailable,
    CorruptMedia,
    DecodeOutOfMemory,
    FingerprintError,
    MediaError,
)
from consumer.media.config import DecodeConfig
from consumer.media.coverage import Coverage
from consumer.media.decoders import PacketDecoder, Picture
from consumer.media.frame_hash import PDQ_SPEC, FrameHash, frame_hash
from consumer.media.listeners import StreamValue
from consumer.media.probe import (
    VideoProbe,
    check_pixels,
    open_container,
    probe_container,
    video_stream_of,
)
from consumer.media.resize import ResizeSpec, display_rotation, resize_frame
from consumer.media.sampler import KeyframeSampler, choose_strategy
from consumer.media.soundtrack import NONE, UNDECODABLE, Heard, StreamFingerprint, hear
from consumer.media.sources import open_source
from consumer.pixels import on_host
from consumer.settings import SourceSettings

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

log = logging.getLogger(__name__)

# The soundtrack may use this share of decode.timeout_s, after the frames (whose forward
# decoding may use 0.6 of it): the worker's kill stays for hangs.
AUDIO_TIME_SHARE = 0.3


@dataclass
class _WorkerMode:
    frames_on_device: bool = False  # an NVDEC worker that hands frames over in device memory


_MODE = _WorkerMode()


def keep_frames_on_device() -> None:
    """From now on NVDEC-decoded frames stay on the GPU as torch tensors (the worker copies
    them into its device arena); CPU-decoded ones are host arrays as ever."""
    _MODE.frames_on_device = True


@dataclass
class Keyframes:
    """The sampled frames of one video (keyframes, and frames decoded at targets where
    keyframes are sparse), resized once per model input spec, and what they cover."""

    probe: VideoProbe
    pts_s: list[float]
    frames: dict[ResizeSpec, npt.NDArray[np.uint8]]
    coverage: Coverage | None = None
    hashes: list[FrameHash] = field(default_factory=list)  # PDQ per frame (box, mirror, full)
    hash_s: float = 0.0  # time spent hashing
    device: str = "cpu"  # where the frames were decoded: cpu or nvdec
    fallback: str | None = None  # why an NVDEC worker decoded this video on the CPU
    # The soundtrack (DecodeConfig.soundtrack): "off", "none" (no audio stream), "ok" (every audio
    # stream fingerprinted in full), "partial" (cut by a limit or a stream failing: `audio_why`)
    # or "undecodable"; one raw Chromaprint fingerprint per audio stream heard.
    audio: str = "off"
    audio_fingerprints: tuple[StreamFingerprint, ...] = ()
    audio_why: str | None = None
    audio_s: float = 0.0
    # What each signal's audio listener (DecodeConfig.listeners) made of each stream, by name.
    audio_listened: dict[str, tuple[StreamValue, ...]] = field(default_factory=dict)


def extract_keyframes(uri: str, specs: Sequence[ResizeSpec], decode: DecodeConfig,
                      source: SourceSettings) -> Keyframes:
    """Open, probe, sample and resize one video; every failure is a `MediaError` subclass.

    No isolation: a hostile file can still crash or hang this process. Production goes
    through `KeyframeExtractor`, which runs this in killable workers. With `gpu.decode`
    nvdec, NVDEC decodes what it takes; the rest, and a video NVDEC failed on, the CPU.
    """
    if not decode.nvdec:
        return _extract(uri, specs, decode, source, gpu=False)
    from consumer.media.nvdec import NvdecFailed

    try:
        return _extract(uri, specs, decode, source, gpu=True)
    except NvdecFailed:
        result = _extract(uri, specs, decode, source, gpu=False)
        return dataclasses.replace(result, fallback="nvdec_error")


class _Resize(Protocol):
    def rotation(self, frame: Any) -> int: ...

    def __call__(self, frame: Any, spec: ResizeSpec, rotation: int) -> Any:
        """[size, size, 3] uint8: a host array, or a device tensor (keep_frames_on_device)."""


class _CpuResize:
    def rotation(self, frame: VideoFrame) -> int:
        return display_rotation(frame)

    def __call__(self, frame: VideoFrame, spec: ResizeSpec,
                 rotation: int) -> npt.NDArray[np.uint8]:
        return resize_frame(frame, spec, rotation)


def _decoder_for(container: InputContainer, stream: VideoStream, decode: DecodeConfig,
                 gpu: bool) -> tuple[PacketDecoder[Any] | None, _Resize, str | None]:
    """The decoder and resizer of this video; NVDEC where asked and able, else the CPU's
    (with the reason NVDEC did not take it)."""
    if not gpu:
        return None, _CpuResize(), None
    from consumer.media import nvdec

    reason = nvdec.fallback_reason(stream)
    if reason is not None:
        return None, _CpuResize(), reason
    rotation = nvdec.rotation_on_cpu(container, stream)
    cache = nvdec.decoder_cache(decode.gpu.id, decode.gpu.nvdec_decoders)
    resize = nvdec.GpuResize(rotation, nvdec.colour_of(stream), on_device=_MODE.frames_on_device)
    return nvdec.NvdecDecoder(stream, cache), resize, None


def _extract(uri: str, specs: Sequence[ResizeSpec], decode: DecodeConfig,
             source: SourceSettings, gpu: bool) -> Keyframes:
    unique = list(dict.fromkeys(specs))
    try:
        with open_source(uri, source, decode.limits.max_bytes) as opened:
            container, name = open_container(opened)
            with container:
                probe = probe_container(container, name, opened.size_bytes, decode.limits)
                stream = video_stream_of(container)
                decoder, resize, fallback = _decoder_for(container, stream, decode, gpu)
                sampler: KeyframeSampler[Any] = KeyframeSampler(
                    container, stream, probe.duration_s, decode, probe.fps, decoder)
                strategy = choose_strategy(decode.sampling.mode, opened.remote, stream,
                                           len(sampler.targets))
                frames = sampler.seek() if strategy == "seek" else sampler.scan()
                result = _resize_each(frames, sampler, unique, probe, decode, resize=resize)
                if not result.pts_s:
                    result = _resize_each(sampler.first_frames(), sampler, unique, probe,
                                          decode, resize=resize)
                if not result.pts_s:
                    raise CorruptMedia("no decodable video frame")
                if result.probe.duration_s <= 0 < sampler.end_s:  # measured, not declared
                    result.probe = dataclasses.replace(result.probe, duration_s=sampler.end_s)
                result = dataclasses.replace(
                    result, coverage=sampler.coverage(result.pts_s),
                    device="nvdec" if decoder is not None else "cpu",
                    fallback=fallback if gpu else None)
                return _with_soundtrack(container, result, decode) if decode.hears \
                    else result
    except CorruptMedia as exc:
        cause = exc.__cause__  # the demuxer may run out while the container opens
        if cause is not None and _is_out_of_memory(cause):
            raise _out_of_memory(cause, decode) from cause
        raise
    except MediaError:
        raise
    except (MemoryError, av.FFmpegError) as exc:
        if _is_out_of_memory(exc):
            raise _out_of_memory(exc, decode) from exc
        raise CorruptMedia(f"cannot decode: {exc}") from exc


def _with_soundtrack(container: InputContainer, result: Keyframes,
                     decode: DecodeConfig) -> Keyframes:
    """Every audio stream's fingerprint (consumer.media.soundtrack), in this worker and within
    its limits. A video without audio, or whose audio cannot be decoded, keeps its visual
    result; the outcome says so. Decoding may take `AUDIO_TIME_SHARE` of `decode.timeout_s`,
    shared by the streams; a soundtrack cut there, at `signals.music.max_soundtrack_s` or at
    `signals.music.max_audio_streams` is `partial` (what was heard is still matched), never the
    reason the video times out."""
    if not container.streams.audio:
        return dataclasses.replace(result, audio=NONE)
    started = time.perf_counter()
    deadline = time.monotonic() + decode.limits.timeout_s * AUDIO_TIME_SHARE
    try:
        container.seek(0)
        heard = hear(container, decode.max_audio_streams, decode.max_soundtrack_s, deadline,
                     fingerprint=decode.soundtrack, listeners=decode.listeners)
    except ChromaprintUnavailable:
        raise  # a broken install, not this video's audio (start-up checks it first)
    except (av.FFmpegError, FingerprintError, ValueError, OSError) as exc:
        log.info("soundtrack undecodable: %s", exc)
        heard = Heard(UNDECODABLE, (), f"does not decode ({exc})")
    if heard.why:
        log.info("soundtrack %s: %s", heard.status, heard.why)
    return dataclasses.replace(result, audio=heard.status, audio_fingerprints=heard.fingerprints,
                               audio_why=heard.why, audio_s=time.perf_counter() - started,
                               audio_listened=heard.listened)


def _is_out_of_memory(exc: BaseException) -> bool:
    """ENOMEM, or EAGAIN: under the worker's RLIMIT_AS FFmpeg cannot create its frame
    threads (pthread_create) and reports EAGAIN, which is no fault of the media."""
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, av.FFmpegError) and exc.errno in (errno.ENOMEM, errno.EAGAIN)


def _out_of_memory(exc: BaseException, decode: DecodeConfig) -> DecodeOutOfMemory:
    return DecodeOutOfMemory(
        f"out of memory while decoding (decode.memory_limit_mb={decode.limits.memory_limit_mb}"
        f", workers.threads={decode.workers.threads}): {str(exc) or type(exc).__name__}")


def _resize_each(frames: Iterable[Picture], sampler: KeyframeSampler[Any],
                 specs: list[ResizeSpec], probe: VideoProbe, decode: DecodeConfig, *,
                 resize: _Resize) -> Keyframes:
    """Resize frames as they arrive (no full-size frame is kept), then order them by time."""
    resized: dict[float, list[Any]] = {}
    hashes: dict[float, FrameHash] = {}
    hash_s = 0.0
    rotation = 0
    for frame in frames:
        check_pixels(frame.width, frame.height, decode.limits)
        time_s = sampler.frame_time(frame)
        if time_s in resized:
            continue
        if not resized:
            rotation = resize.rotation(frame)
        resized[time_s] = [resize(frame, spec, rotation) for spec in specs]
        if decode.frame_hashes:
            started = time.perf_counter()
            hashes[time_s] = frame_hash(on_host(resize(frame, PDQ_SPEC, rotation)))
            hash_s += time.perf_counter() - started
        if len(resized) >= decode.sampling.max_keyframes:
            break
    times = sorted(resized)
    return Keyframes(
        probe=dataclasses.replace(probe, rotation=rotation),
        pts_s=times,
        frames={
            spec: (_stack([resized[t][i] for t in times]) if times
                   else np.empty((0, spec.size, spec.size, 3), np.uint8))
            for i, spec in enumerate(specs)
        },
        hashes=[hashes[t] for t in times] if decode.frame_hashes else [],
        hash_s=hash_s,
    )


def _stack(frames: list[Any]) -> Any:
    """[N, size, size, 3]: numpy for host frames, torch (on their device) for device ones."""
    if isinstance(frames[0], np.ndarray):
        return np.stack(frames)
    import torch

    return torch.stack(frames)
