"""Sample videos generated with PyAV, for the demo and the tests: nothing binary is committed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
from av.video.stream import VideoStream


def encode_frames(path: Path, frames: Iterable[npt.NDArray[np.uint8]], *, width: int,
                  height: int, fps: int, gop: int, codec: str = "libx264",
                  options: dict[str, str] | None = None) -> Path:
    """Encode RGB frames with a keyframe exactly every `gop` frames (no scene-cut extras)."""
    with av.open(str(path), "w") as container:
        stream = cast(VideoStream, container.add_stream(codec, rate=fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.options = {"g": str(gop), "keyint_min": str(gop),
                                        "sc_threshold": "0", "bf": "0", **(options or {})}
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_video(path: Path, *, seconds: float = 2.0, fps: int = 10, gop: int = 5,
               width: int = 160, height: int = 120, codec: str = "libx264",
               seed: int = 0) -> Path:
    """A short video of moving, seed-dependent noise with a keyframe every `gop` frames."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    frames = (np.roll(base, index * 3, axis=1) for index in range(int(seconds * fps)))
    return encode_frames(path, frames, width=width, height=height, fps=fps, gop=gop,
                         codec=codec)


def make_still_video(path: Path, image: npt.NDArray[np.uint8], *, seconds: float = 2.0,
                     fps: int = 10, gop: int = 10) -> Path:
    """A video showing one real image (RGB uint8, even sizes) for its whole length."""
    height, width = image.shape[:2]
    frames = (image for _ in range(int(seconds * fps)))
    return encode_frames(path, frames, width=width, height=height, fps=fps, gop=gop,
                         options={"crf": "12"})
