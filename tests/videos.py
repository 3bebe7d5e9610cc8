"""Test videos generated with PyAV: nothing binary is committed."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def make_video(path: Path, *, seconds: float = 2.0, fps: int = 10, gop: int = 5,
               width: int = 160, height: int = 120, codec: str = "libx264",
               seed: int = 0) -> Path:
    """A short video with a keyframe every `gop` frames and moving, seed-dependent content."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.options = {"g": str(gop), "keyint_min": str(gop),
                                        "sc_threshold": "0", "bf": "0"}
        stream.time_base = Fraction(1, fps)
        for index in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.roll(base, index * 3, axis=1), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
