"""The GPU node's resize, run here on CPU tensors, against the CPU path's swscale: the models
must see the same pixels whichever node decoded the video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
import torch
from av.video.frame import VideoFrame

from consumer.media.gpu_resize import Colour, resize_nv12
from consumer.media.resize import ResizeSpec, resize_frame
from tests.unit.media.videos import make_video


def _first_frame(path: Path) -> VideoFrame:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def _nv12(frame: VideoFrame) -> torch.Tensor:
    """The frame as NVDEC hands it over: Y rows, then interleaved U/V rows."""
    planes: npt.NDArray[np.uint8] = frame.to_ndarray(format="yuv420p")
    h, w = frame.height, frame.width
    u = planes[h:h + h // 4].reshape(h // 2, w // 2)
    v = planes[h + h // 4:].reshape(h // 2, w // 2)
    return torch.from_numpy(np.concatenate([planes[:h], np.stack([u, v], -1).reshape(h // 2, w)]))


def _diff(frame: VideoFrame, spec: ResizeSpec, rotation: int, colour: Colour) -> np.ndarray:
    ours = resize_nv12(_nv12(frame), frame.width, frame.height, spec, rotation=rotation,
                       colour=colour).numpy()
    reference = resize_frame(frame, spec, rotation)
    assert ours.shape == reference.shape == (spec.size, spec.size, 3)
    return np.abs(ours.astype(int) - reference.astype(int))


SPECS = [ResizeSpec(320, "pad"), ResizeSpec(224, "stretch"), ResizeSpec(960, "pad")]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_flat_content_matches_swscale_within_rounding(tmp_path: Path, spec: ResizeSpec) -> None:
    frame = _first_frame(make_video(tmp_path / "m.mp4", width=640, height=360, frames=2,
                                    marker=True))
    diff = _diff(frame, spec, 0, Colour())
    # swscale's fixed-point conversion (no SWS_ACCURATE_RND) reads 1 level low on flat areas:
    # RGB 16 encodes to Y=30, which it gives back as 15 and this exact formula as 16.
    assert diff.mean() < 1.2
    assert np.percentile(diff, 99) <= 3  # at the block edges the two kernels differ more


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_per_pixel_noise_stays_within_a_few_levels(tmp_path: Path, spec: ResizeSpec) -> None:
    """Noise in every pixel is where two area filters disagree most (measured: 1.5-3.3)."""
    frame = _first_frame(make_video(tmp_path / "n.mp4", width=640, height=360, frames=2,
                                    texture=True, marker=True))
    diff = _diff(frame, spec, 0, Colour())
    assert diff.mean() < 3.5
    assert np.percentile(diff, 99) <= 14


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_turns_the_picture_like_the_cpu_path(tmp_path: Path, rotation: int) -> None:
    frame = _first_frame(make_video(tmp_path / "r.mp4", width=640, height=360, frames=2,
                                    marker=True))
    diff = _diff(frame, ResizeSpec(320, "pad"), rotation, Colour())
    assert diff.mean() < 1.2


def test_the_wrong_matrix_would_show(tmp_path: Path) -> None:
    """A guard on the test itself: BT.709 read as BT.601 moves the marker's red by tens."""
    frame = _first_frame(make_video(tmp_path / "c.mp4", width=640, height=360, frames=2,
                                    marker=True))
    assert _diff(frame, ResizeSpec(320, "pad"), 0, Colour(bt709=True)).max() > 20
    assert _diff(frame, ResizeSpec(320, "pad"), 0, Colour(full_range=True)).mean() > 3


def _photo_frame(name: str, width: int, height: int) -> VideoFrame:
    """A scikit-image photo at width x height, through H.264 and back as a decoded frame."""
    import io

    import cv2
    from skimage import data

    image = getattr(data, name)()
    image = np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        return next(container.decode(video=0))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket", "colorwheel"])
def test_a_gpu_node_hashes_photos_like_a_cpu_node(name: str) -> None:
    """Known-content matching must not depend on the node: PDQ of the GPU resize against PDQ
    of swscale's, on photos (measured 0-10 bits over ten photos at three sizes, the colour
    wheel the most; noise, with hashes of low quality, differs more)."""
    from consumer.media.frame_hash import PDQ_SPEC, pdq_hash
    from consumer.signals.known_content.settings import HashListRule

    frame = _photo_frame(name, 1280, 720)
    cpu = pdq_hash(resize_frame(frame, PDQ_SPEC, 0))
    gpu = pdq_hash(resize_nv12(_nv12(frame), frame.width, frame.height, PDQ_SPEC, rotation=0,
                               colour=Colour()).numpy())
    distance = bin(int(cpu.pdq, 16) ^ int(gpu.pdq, 16)).count("1")
    assert distance <= 12 < HashListRule.model_fields["max_distance"].default
