"""GPU node mode: NVDEC decodes the packets PyAV demuxes; pictures stay on the GPU.

PyAV opens and demuxes exactly as on the CPU path (the same safe reader, format whitelist and
limits); the `*_mp4toannexb` bitstream filter turns each sampled packet into Annex B and a
PyNvVideoCodec core decoder decodes it to NV12 in device memory, which `gpu_resize` scales.
Core decoders are kept per worker process and reused across videos, one per codec and frame
size (a core decoder does not follow a size change; creating one costs ~60 ms).

Isolation: NVDEC runs in the same killable worker processes as CPU decoding, one CUDA context
per worker. A bitstream that crashes NVDEC's parser (it runs on the CPU, in the worker) kills
that worker only: its video is `unprocessable` and the pool starts a fresh one. NVDEC conceals
errors inside a picture, and a picture that never comes out is a gap coverage reports.

Needs the `[gpu]` extra (PyNvVideoCodec, torch); nothing here is imported on a CPU node.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import torch
from av.packet import Packet
from av.video.stream import VideoStream
from torch.utils.dlpack import from_dlpack

from consumer.errors import NvdecUnavailable
from consumer.media.gpu_resize import Colour, resize_nv12
from consumer.media.resize import ResizeSpec, display_rotation

# FFmpeg codec name -> (PyNvVideoCodec codec, bitstream filter to Annex B).
CODECS = {"h264": ("H264", "h264_mp4toannexb"), "hevc": ("HEVC", "hevc_mp4toannexb")}
PIXEL_FORMATS = {"yuv420p", "yuvj420p"}  # 8-bit 4:2:0: what the NV12 path converts
# NVDEC's H.264/HEVC limits on Hopper (GetDecoderCaps): 48..4096 wide, 16..4096 high.
MIN_WIDTH, MIN_HEIGHT, MAX_SIDE = 48, 16, 4096


def fallback_reason(stream: VideoStream) -> str | None:
    """Why this stream goes to the CPU path (a metric label), or None if NVDEC takes it."""
    ctx = stream.codec_context
    if ctx.name not in CODECS:
        return "codec"
    if ctx.pix_fmt not in PIXEL_FORMATS:
        return "pixel_format"
    width, height = ctx.width, ctx.height
    if width % 2 or height % 2 or not (MIN_WIDTH <= width <= MAX_SIDE) or not (
            MIN_HEIGHT <= height <= MAX_SIDE):
        return "size"
    return None


def colour_of(stream: VideoStream) -> Colour:
    """The stream's matrix and range as swscale would read them (unspecified: BT.601,
    limited)."""
    ctx = stream.codec_context
    return Colour(bt709=int(ctx.colorspace or 0) == 1,
                  full_range=int(ctx.color_range or 0) == 2 or ctx.pix_fmt == "yuvj420p")


@dataclass
class GpuPicture:
    """One decoded picture: NV12 on the GPU, a private copy (decoder surfaces are reused)."""

    pts: int | None
    width: int
    height: int
    nv12: torch.Tensor


def _nvc() -> Any:
    import PyNvVideoCodec  # the [gpu] extra: imported only in NVDEC workers

    return PyNvVideoCodec


class DecoderCache:
    """Core decoders of this process, least recently used dropped beyond `size`."""

    def __init__(self, gpu_id: int, size: int) -> None:
        self.gpu_id = gpu_id
        self.size = size
        self.created = 0
        self._decoders: OrderedDict[tuple[str, int, int, bool], Any] = OrderedDict()

    def get(self, codec: str, width: int, height: int, *, intra: bool) -> Any:
        """`intra`: for keyframes sent alone (LOW latency: each picture out at once, in
        order); else for forward decoding through B-frames (NATIVE: display order)."""
        key = (codec, width, height, intra)
        decoder = self._decoders.pop(key, None)
        if decoder is None:
            nvc = _nvc()
            latency = nvc.DisplayDecodeLatencyType
            decoder = nvc.CreateDecoder(
                gpuid=self.gpu_id, codec=getattr(nvc.cudaVideoCodec, CODECS[codec][0]),
                usedevicememory=True, outputColorType=nvc.OutputColorType.NATIVE,
                latency=latency.LOW if intra else latency.NATIVE)
            self.created += 1
        self._decoders[key] = decoder
        while len(self._decoders) > self.size:
            self._decoders.popitem(last=False)
        return decoder

    def discard(self, codec: str, width: int, height: int) -> None:
        """Forget the decoders that failed: the next video gets fresh ones."""
        for intra in (True, False):
            self._decoders.pop((codec, width, height, intra), None)


class NvdecDecoder:
    """A `PacketDecoder` for one stream on two cached core decoders.

    Keyframes the sampler sends alone go to a LOW-latency decoder, each marked end of picture:
    an all-intra feed, so every picture comes out at once with its own pts. Forward decoding
    (the sampler calls `skip_nonref` only then, until the next `reset`) goes to a NATIVE one,
    which reorders B-frames into display order. `send(None)` and `reset()` end the decoder's
    stream (ENDOFSTREAM), after which it takes packets afresh: one decoder serves every seek of
    a video and every video of its size. A picture whose pts was not sent since the last reset
    is a leftover of an earlier stream, and is dropped."""

    def __init__(self, stream: VideoStream, cache: DecoderCache) -> None:
        ctx = stream.codec_context
        self.width, self.height = ctx.width, ctx.height
        self._key = (ctx.name, ctx.width, ctx.height)
        self._cache = cache
        self._forward = False
        self._sent: set[int] = set()
        self._bsf = av.BitStreamFilterContext(CODECS[ctx.name][1], stream)
        self._nvc = _nvc()
        try:
            self._intra = self._core = cache.get(*self._key, intra=True)
            self._end_of_stream()  # whatever an earlier video left in them
            self._core = cache.get(*self._key, intra=False)
            self._end_of_stream()
            self._core = self._intra
        except Exception as exc:
            cache.discard(*self._key)
            raise NvdecFailed(f"{type(exc).__name__}: {exc}") from exc

    def send(self, packet: Packet[VideoStream] | None) -> list[GpuPicture]:
        try:
            if packet is None:
                return self._end_of_stream()
            pictures: list[GpuPicture] = []
            for filtered in self._bsf.filter(packet):
                data = np.frombuffer(bytes(filtered), np.uint8)
                item = self._nvc.PacketData()
                item.bsl_data = data.ctypes.data
                item.bsl = data.size
                stamp = filtered.pts if filtered.pts is not None else filtered.dts
                item.pts = stamp if stamp is not None else 0
                self._sent.add(item.pts)
                if not self._forward:
                    item.decode_flag = self._nvc.VideoPacketFlag.ENDOFPICTURE
                pictures += self._pictures(self._core.Decode(item))
            return pictures
        except av.FFmpegError:
            raise  # the bitstream filter refused the packet: the media's fault
        except Exception as exc:
            self._cache.discard(*self._key)
            raise NvdecFailed(f"{type(exc).__name__}: {exc}") from exc

    def reset(self) -> None:
        self.send(None)
        self._sent.clear()
        self._forward = False
        self._core = self._intra

    def skip_nonref(self, skip: bool) -> None:
        """NVDEC decodes every picture it is given; the call says forward decoding began."""
        if not self._forward:
            self.send(None)
            self._forward = True
            self._core = self._cache.get(*self._key, intra=False)

    def _end_of_stream(self) -> list[GpuPicture]:
        item = self._nvc.PacketData()
        item.bsl = 0
        item.bsl_data = 0
        item.decode_flag = self._nvc.VideoPacketFlag.ENDOFSTREAM
        return self._pictures(self._core.Decode(item))

    def _pictures(self, frames: Any) -> list[GpuPicture]:
        return [GpuPicture(pts=int(frame.getPTS()), width=self.width, height=self.height,
                           nv12=from_dlpack(frame).clone())
                for frame in frames if int(frame.getPTS()) in self._sent]


def check_available(gpu_id: int) -> str:
    """The GPU's name if this machine can decode H.264 on NVDEC; else `NvdecUnavailable`
    with one line that says what is missing (start-up stops, no traceback)."""
    for module, extra in (("PyNvVideoCodec", "pynvvideocodec"), ("torch", "torch")):
        if importlib.util.find_spec(module) is None:
            raise NvdecUnavailable(
                f"gpu.decode=nvdec needs {extra} (pip install 'video-moderation-consumer"
                "[gpu]'), which is not installed")
    if not torch.cuda.is_available() or torch.cuda.device_count() <= gpu_id:
        raise NvdecUnavailable(f"gpu.decode=nvdec, but CUDA device {gpu_id} is not "
                               f"available here (devices: {torch.cuda.device_count()})")
    try:
        nvc = _nvc()
        caps = nvc.GetDecoderCaps(gpuid=gpu_id, codec=nvc.cudaVideoCodec.H264,
                                  chromaformat=nvc.cudaVideoChromaFormat(1), bitdepth=8)
    except Exception as exc:
        raise NvdecUnavailable(f"gpu.decode=nvdec, but NVDEC cannot be opened on GPU "
                               f"{gpu_id}: {type(exc).__name__}: {exc}") from None
    if not caps.get("supported"):
        raise NvdecUnavailable(f"gpu.decode=nvdec, but GPU {gpu_id} has no H.264 NVDEC")
    return torch.cuda.get_device_name(gpu_id)


class NvdecFailed(Exception):
    """NVDEC or the GPU failed on this video (not the media's fault as far as we know): the
    worker decodes it again on the CPU."""


_caches: dict[int, DecoderCache] = {}


def decoder_cache(gpu_id: int, size: int) -> DecoderCache:
    """This worker process's decoders (its CUDA context is made on first use)."""
    if gpu_id not in _caches:
        torch.cuda.set_device(gpu_id)
        _caches[gpu_id] = DecoderCache(gpu_id, size)
    return _caches[gpu_id]


def rotation_on_cpu(container: av.container.InputContainer, stream: VideoStream) -> int:
    """The display rotation, as the CPU path reads it: from the first keyframe FFmpeg decodes
    (container display matrices and H.264 orientation SEI alike). Costs one CPU keyframe
    decode per video (~45 ms at 1080p); then the container is back at its start."""
    ctx = stream.codec_context
    rotation = 0
    try:
        for packet in container.demux(stream):
            if packet.size and packet.is_keyframe:
                frames = ctx.decode(packet) + ctx.decode(None)
                rotation = display_rotation(frames[0]) if frames else 0
                break
    finally:
        ctx.flush_buffers()
        container.seek(0)
    return rotation


class GpuResize:
    """Resizes `GpuPicture`s on their device. The frames the models get come back to the host
    (a 320x320 frame is 300 KB: the copy is not what limits a node), or with `on_device` stay
    there as torch tensors, for CUDA shared memory to a Triton on the same GPU."""

    def __init__(self, rotation: int, colour: Colour, *, on_device: bool = False) -> None:
        self._rotation = rotation
        self._colour = colour
        self._on_device = on_device

    def rotation(self, frame: GpuPicture) -> int:
        return self._rotation

    def __call__(self, frame: GpuPicture, spec: ResizeSpec,
                 rotation: int) -> npt.NDArray[np.uint8] | torch.Tensor:
        try:
            out = resize_nv12(frame.nv12, frame.width, frame.height, spec, rotation=rotation,
                              colour=self._colour)
            if self._on_device:
                return out.contiguous()
            return np.ascontiguousarray(out.cpu().numpy())
        except RuntimeError as exc:  # a CUDA fault: the worker redoes the video on the CPU
            raise NvdecFailed(f"GPU resize: {exc}") from exc
