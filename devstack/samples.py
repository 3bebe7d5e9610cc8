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


def synth_track(seed: int, seconds: float, rate: int = 44100) -> npt.NDArray[np.float32]:
    """A reference "recording" that belongs to nobody: a seed-dependent chord sequence (four
    notes with harmonics, a new chord every 0.5-1 s, soft attack and decay), mono, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate), np.float32)
    start = 0
    while start < out.size:
        length = min(int(rng.uniform(0.5, 1.0) * rate), out.size - start)
        t = np.arange(length, dtype=np.float32) / rate
        envelope = np.minimum(1.0, t / 0.02) * np.exp(-t * rng.uniform(1.0, 3.0))
        chord = np.zeros(length, np.float32)
        for note in rng.choice(np.arange(40, 76), size=4, replace=False):
            pitch = 440.0 * 2 ** ((note - 69) / 12)
            for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25)):
                chord += weight * np.sin(2 * np.pi * pitch * harmonic * t
                                         + rng.uniform(0, 2 * np.pi)).astype(np.float32)
        out[start:start + length] = chord * envelope.astype(np.float32)
        start += length
    return (out / max(1e-6, float(np.abs(out).max())) * 0.8).astype(np.float32)


def add_soundtrack(video: Path, audio: npt.NDArray[np.float32], out: Path, *,
                   rate: int = 44100, bit_rate: int = 128_000) -> Path:
    """`video`'s frames (stream-copied) with `audio` (mono float) as an AAC soundtrack."""
    with av.open(str(video)) as source, av.open(str(out), "w") as container:
        video_in = source.streams.video[0]
        video_out = container.add_stream_from_template(video_in)
        sound = _aac_stream(container, rate=rate, bit_rate=bit_rate)
        for packet in source.demux(video_in):
            if packet.dts is not None:
                packet.stream = video_out
                container.mux(packet)
        _mux_aac(container, sound, audio, rate=rate)
    return out


def write_audio(path: Path, audio: npt.NDArray[np.float32], *, rate: int = 44100,
                bit_rate: int = 128_000) -> Path:
    """Mono float samples as an AAC file (`.m4a`), as a reference recording would arrive."""
    with av.open(str(path), "w") as container:
        sound = _aac_stream(container, rate=rate, bit_rate=bit_rate)
        _mux_aac(container, sound, audio, rate=rate)
    return path


def _aac_stream(container: av.container.OutputContainer, *, rate: int,
                bit_rate: int) -> av.audio.stream.AudioStream:
    """A mono AAC stream, added before anything is muxed (a stream cannot join later)."""
    sound = container.add_stream("aac", rate=rate)
    sound.bit_rate = bit_rate
    return sound


def _mux_aac(container: av.container.OutputContainer, sound: av.audio.stream.AudioStream,
             audio: npt.NDArray[np.float32], *, rate: int) -> None:
    """Encode mono float samples into `sound`, 1024 samples a frame, and flush it."""
    for start in range(0, audio.size, 1024):
        frame = av.AudioFrame.from_ndarray(audio[None, start:start + 1024], format="flt",
                                           layout="mono")
        frame.sample_rate, frame.pts = rate, start
        container.mux(sound.encode(frame))
    container.mux(sound.encode())
