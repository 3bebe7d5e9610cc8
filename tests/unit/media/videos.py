"""Videos the tests generate with PyAV: frame i is a flat grey of level `level(i)`, so a test
can tell from the pixels which frame it got."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def level(index: int) -> int:
    """The grey level of frame `index` (distinct for the first ~20 frames)."""
    return 16 + (index * 11) % 224


def make_video(path: Path, *, codec: str = "libx264", width: int = 64, height: int = 48,
               frames: int = 20, rate: int = 10, gop: int = 5, rotation: int | None = None,
               audio: bool = False, pix_fmt: str = "yuv420p",
               pts: list[int] | None = None, marker: bool = False, texture: bool = False,
               options: dict[str, str] | None = None) -> Path:
    """Encode a test clip; `pts` (in 1/1000 s) makes it variable frame rate, `texture` adds
    static noise so keyframes weigh what real ones do."""
    noise = np.random.default_rng(5).integers(0, 64, (height, width, 3), np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt
        stream.gop_size = gop
        if codec == "libx264":
            stream.codec_context.options = {
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0", **(options or {})}
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=8000) if audio else None
        for i in range(frames):
            image = np.full((height, width, 3), level(i), np.uint8)
            if texture:
                image += noise
            if marker:
                image[: height // 2, : width // 4] = (255, 0, 0)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            if pts is not None:
                frame.time_base = Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if sound is not None:
            _add_silence(out, sound, seconds=frames / rate)
    return path


def make_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=8000)
        _add_silence(out, sound, seconds=1.0)
    return path


def _add_silence(out: av.container.OutputContainer, sound: av.audio.stream.AudioStream,
                 seconds: float) -> None:
    samples = 1024
    for i in range(int(seconds * 8000 / samples) + 1):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate = 8000
        frame.pts = i * samples
        out.mux(sound.encode(frame))
    out.mux(sound.encode())


def keyframe_times(path: Path) -> list[float]:
    """Keyframe presentation times by an independent demux (what a sampler may return)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = stream.time_base
        start = stream.start_time or 0
        times = sorted(
            float((p.pts - start) * base) for p in container.demux(stream)
            if p.is_keyframe and p.pts is not None and p.size)
    return times


def frame_index_at(time_s: float, rate: int = 10) -> int:
    return round(time_s * rate)
