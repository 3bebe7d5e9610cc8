"""Recognise the container, open it with FFmpeg under a format whitelist, and check limits.

The container is identified from its first bytes and the matching demuxer is *forced*, with
`format_whitelist` as a second lock, so FFmpeg never probes its way into a playlist demuxer
(HLS, concat, ...) that would open other URLs or local files.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from consumer.errors import (
    CorruptMedia,
    FrameTooLarge,
    MediaTooLong,
    NoVideoStream,
    TooManyStreams,
    UnsupportedContainer,
)
from consumer.media.sources import OpenedSource
from consumer.settings import DecodeSettings

MOV_DEMUXER = "mov,mp4,m4a,3gp,3g2,mj2"
MATROSKA_DEMUXER = "matroska,webm"
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_SNIFF_BYTES = 64
_IO_BUFFER_BYTES = 256 * 1024


@dataclass(frozen=True)
class VideoProbe:
    """Facts about a video, known after opening it (rotation after its first frame)."""

    duration_s: float
    width: int
    height: int
    fps: float
    codec: str
    container: str
    rotation: int
    has_audio: bool
    bit_rate: int | None
    size_bytes: int | None


def sniff_container(head: bytes) -> tuple[str, str]:
    """(demuxer, container name) for the first bytes of a file, or UnsupportedContainer."""
    if len(head) >= 8 and head[4:8] in _ISO_BOXES:
        brand = head[8:12] if head[4:8] == b"ftyp" else b""
        return MOV_DEMUXER, "mov" if brand == b"qt  " else "mp4"
    if head.startswith(_EBML_MAGIC):
        return MATROSKA_DEMUXER, "webm" if b"webm" in head[:_SNIFF_BYTES] else "matroska"
    what = "empty file" if not head else f"starts with {head[:8]!r}"
    raise UnsupportedContainer(
        f"not an mp4/mov or matroska/webm container ({what})")


def open_container(opened: OpenedSource) -> tuple[InputContainer, str]:
    """Open the source with the demuxer its bytes call for, and nothing else."""
    head = opened.file.read(_SNIFF_BYTES)
    opened.file.seek(0)
    demuxer, name = sniff_container(head)
    try:
        container = av.open(
            opened.file, mode="r", format=demuxer, buffer_size=_IO_BUFFER_BYTES,
            container_options={
                "format_whitelist": f"{MOV_DEMUXER},{MATROSKA_DEMUXER}",
                "protocol_whitelist": "none",
                "enable_drefs": "0",
            },
        )
    except av.FFmpegError as exc:
        raise CorruptMedia(f"{name} container cannot be opened: {exc}") from exc
    return container, name


def video_stream_of(container: InputContainer) -> VideoStream:
    """The first video stream that is real video (not cover art)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise NoVideoStream("the container has no video stream")


def probe_container(container: InputContainer, name: str, size_bytes: int | None,
                    limits: DecodeSettings) -> VideoProbe:
    """Describe the video and enforce the limits that can be checked before decoding."""
    streams = len(container.streams)
    if streams > limits.max_streams:
        raise TooManyStreams(f"{streams} streams, above decode.max_streams={limits.max_streams}")
    stream = video_stream_of(container)
    ctx: Any = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    check_pixels(width, height, limits)
    duration_s = _duration_s(container, stream)
    if duration_s > limits.max_duration_s:
        raise MediaTooLong(
            f"{duration_s:.1f} s long, above decode.max_duration_s={limits.max_duration_s}")
    rate: Fraction | None = stream.average_rate or stream.guessed_rate
    bit_rate = container.bit_rate or stream.bit_rate or None
    return VideoProbe(
        duration_s=duration_s,
        width=width,
        height=height,
        fps=float(rate) if rate else 0.0,
        codec=stream.codec_context.codec.canonical_name,
        container=name,
        rotation=0,
        has_audio=bool(container.streams.audio),
        bit_rate=int(bit_rate) if bit_rate else None,
        size_bytes=size_bytes,
    )


def check_pixels(width: int, height: int, limits: DecodeSettings) -> None:
    """Refuse a frame size above `decode.max_pixels` (header and every decoded frame)."""
    if width * height > limits.max_pixels:
        raise FrameTooLarge(f"{width}x{height} frame, above decode.max_pixels="
                            f"{limits.max_pixels}")


def _duration_s(container: InputContainer, stream: VideoStream) -> float:
    """Duration from the stream, else the container; 0.0 when neither knows it."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return 0.0
