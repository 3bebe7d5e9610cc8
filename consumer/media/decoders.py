"""The seam between sampling (which packets) and decoding (on which device).

`KeyframeSampler` decides which packets to decode and in what order; a `PacketDecoder` turns
them into pictures. On the CPU that is FFmpeg's decoder in this process (`CpuDecoder`); in GPU
node mode it is NVDEC (`consumer.media.nvdec`). Both keep the sampler's contract: `send(None)`
drains, `reset()` forgets the stream position after a seek, and every picture carries the pts
of its packet in the stream's time base.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream


class Picture(Protocol):
    """A decoded picture, wherever its pixels live."""

    @property
    def pts(self) -> int | None: ...

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...


P = TypeVar("P", bound=Picture)


class PacketDecoder(Protocol[P]):
    def send(self, packet: Packet[VideoStream] | None) -> list[P]:
        """Decode one packet (None: drain what the decoder holds)."""
        ...

    def reset(self) -> None:
        """Drop decoder state and held pictures: the next packet follows a seek."""
        ...

    def skip_nonref(self, skip: bool) -> None:
        """Hint: pictures no other picture references may be skipped (far from a target)."""
        ...


class CpuDecoder:
    """FFmpeg's decoder for the stream, frame-threaded."""

    def __init__(self, stream: VideoStream, threads: int) -> None:
        self._ctx = stream.codec_context
        self._ctx.thread_type = "FRAME"
        self._ctx.thread_count = threads

    def send(self, packet: Packet[VideoStream] | None) -> list[VideoFrame]:
        return self._ctx.decode(packet)

    def reset(self) -> None:
        self._ctx.flush_buffers()

    def skip_nonref(self, skip: bool) -> None:
        self._ctx.skip_frame = "NONREF" if skip else "DEFAULT"
