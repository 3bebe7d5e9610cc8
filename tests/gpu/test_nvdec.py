"""NVDEC against the CPU path on the same files: the same samples, the same pixels within
rounding, the same coverage; what NVDEC cannot take falls back with its reason."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from consumer.errors import MediaError
from consumer.media.extract import Keyframes, extract_keyframes
from consumer.media.gpu_resize import resize_nv12
from consumer.media.nvdec import colour_of
from consumer.media.resize import ResizeSpec
from consumer.media.workers import KeyframeExtractor
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.test_gpu_resize import _nv12
from tests.unit.media.videos import make_video

SPECS = [ResizeSpec(320, "pad"), ResizeSpec(224, "stretch")]
LOCAL = SourceSettings(allowed_schemes=["file"])
CPU = decode_config(frame_hashes=True)
GPU = decode_config(frame_hashes=True, decode="nvdec")


def _both(path: Path) -> tuple[Keyframes, Keyframes]:
    return (extract_keyframes(str(path), SPECS, CPU, LOCAL),
            extract_keyframes(str(path), SPECS, GPU, LOCAL))


def _ffmpeg_frames_through_the_gpu_resize(path: Path, pts_s: list[float],
                                          spec: ResizeSpec) -> np.ndarray:
    """FFmpeg's own decode of the same frames, resized by `resize_nv12` on the CPU: what NVDEC
    must reproduce if it decoded the right pictures right."""
    out = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        colour = colour_of(stream)
        start = float((stream.start_time or 0) * stream.time_base)
        for frame in container.decode(stream):
            time_s = max(0.0, float(frame.pts * stream.time_base) - start)
            if time_s in pts_s and time_s not in out:
                out[time_s] = resize_nv12(_nv12(frame), frame.width, frame.height, spec,
                                          rotation=round(frame.rotation or 0) % 360,
                                          colour=colour).numpy()
    return np.stack([out[t] for t in pts_s])


def _assert_same_pixels(cpu: Keyframes, gpu: Keyframes, path: Path) -> None:
    """Two checks. NVDEC decoded the right pictures exactly: against FFmpeg's decode put
    through the same resize, the frames agree to float rounding. And the node sees what a CPU
    node sees: against swscale, within what two area filters differ by (tests/unit/media/
    test_gpu_resize.py; per-pixel noise that wraps around at 255 is the worst case, ~10)."""
    assert gpu.pts_s == cpu.pts_s
    for spec in SPECS:
        exact = np.abs(gpu.frames[spec].astype(int)
                       - _ffmpeg_frames_through_the_gpu_resize(path, gpu.pts_s, spec))
        diff = np.abs(gpu.frames[spec].astype(int) - cpu.frames[spec].astype(int))
        per_frame = [round(float(d.mean()), 2) for d in diff]
        print(f"{spec}: vs FFmpeg decode mean {exact.mean():.4f} max {exact.max()}; vs CPU "
              f"path mean {diff.mean():.3f}, p99 {np.percentile(diff, 99)}, per frame "
              f"{per_frame}")
        assert exact.mean() < 0.01 and exact.max() <= 1
        assert max(per_frame) < 12.0


@pytest.mark.parametrize(("codec", "width", "height", "gop", "frames"), [
    ("libx264", 640, 360, 10, 60),     # keyframes dense enough: keyframe packets alone
    ("libx264", 640, 360, 120, 120),   # one keyframe in 12 s: frames decoded forward (B-frames)
    ("libx265", 640, 360, 10, 40),
])
def test_nvdec_matches_the_cpu_path(tmp_path: Path, codec: str, width: int, height: int,
                                    gop: int, frames: int) -> None:
    path = make_video(tmp_path / "v.mp4", codec=codec, width=width, height=height,
                      frames=frames, gop=gop, texture=True, marker=True)
    cpu, gpu = _both(path)
    assert (cpu.device, gpu.device, gpu.fallback) == ("cpu", "nvdec", None)
    _assert_same_pixels(cpu, gpu, path)
    assert cpu.coverage is not None and gpu.coverage is not None
    assert gpu.coverage.max_gap_s == cpu.coverage.max_gap_s
    assert gpu.coverage.complete == cpu.coverage.complete
    distances = [bin(int(a.pdq, 16) ^ int(b.pdq, 16)).count("1")
                 for a, b in zip(gpu.hashes, cpu.hashes, strict=True)]
    print("PDQ distances GPU vs CPU", distances)
    # Flat grey plus per-pixel noise gives PDQ little to hold on to (low quality): bits near
    # the median flip with the scaler. Measured 16-40 here; the same frame of another video
    # would be ~128 away.
    assert len(distances) == len(cpu.pts_s) and max(distances) <= 48


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_nvdec_turns_rotated_videos_upright_like_the_cpu(tmp_path: Path, rotation: int) -> None:
    path = make_video(tmp_path / "r.mp4", width=640, height=360, rotation=rotation, frames=30,
                      texture=True, marker=True)
    cpu, gpu = _both(path)
    assert gpu.device == "nvdec"
    assert gpu.probe.rotation == cpu.probe.rotation == rotation % 360
    _assert_same_pixels(cpu, gpu, path)


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"codec": "libvpx-vp9"}, "codec"),
    ({"width": 40, "height": 32}, "size"),
    ({"width": 32, "height": 32}, "size"),
    ({"pix_fmt": "yuv444p"}, "pixel_format"),
])
def test_what_nvdec_cannot_take_falls_back_to_the_cpu_with_its_reason(
        tmp_path: Path, kwargs: dict[str, object], reason: str) -> None:
    suffix = ".webm" if kwargs.get("codec") == "libvpx-vp9" else ".mp4"
    args: dict[str, object] = {"width": 128, "height": 96, "frames": 20, **kwargs}
    path = make_video(tmp_path / f"f{suffix}", **args)  # type: ignore[arg-type]
    cpu, gpu = _both(path)
    assert (gpu.device, gpu.fallback) == ("cpu", reason)
    assert gpu.pts_s == cpu.pts_s
    for spec in SPECS:
        assert np.array_equal(gpu.frames[spec], cpu.frames[spec])


def test_the_pool_serves_cpu_and_nvdec_workers_and_survives_a_corrupt_bitstream(
        tmp_path: Path) -> None:
    good = make_video(tmp_path / "g.mp4", width=640, height=360, frames=40, texture=True)
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(7)
    for i in rng.integers(len(data) // 4, len(data), 400):
        data[int(i)] = int(rng.integers(0, 256))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    settings = decode_config(frame_hashes=True, decode="nvdec", count=1, nvdec_workers=2,
                             queue_size=64)
    with KeyframeExtractor(settings, LOCAL) as pool:
        assert pool.gpu
        futures = [pool.submit(str(bad if i % 3 == 1 else good), SPECS) for i in range(12)]
        devices = []
        for i, future in enumerate(futures):
            try:
                result = future.result(timeout=120)
            except MediaError:
                assert i % 3 == 1  # only the corrupt file may fail, and with a media error
                continue
            devices.append(result.device)
            if i % 3 != 1:
                assert len(result.pts_s) == 4
        assert devices.count("nvdec") >= 1
        print("devices", devices, "restarts", pool.restarts)
