"""Resizing inside swscale: pad geometry like the detector's reference, stretch, rotation."""

from __future__ import annotations

import av
import numpy as np
import pytest

from consumer.media.resize import ResizeSpec, fit_size, resize_frame


def _frame(width: int, height: int, value: int = 200) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(np.full((height, width, 3), value, np.uint8),
                                      format="rgb24").reformat(format="yuv420p")


def test_fit_size_keeps_aspect_with_the_long_side_at_size() -> None:
    assert fit_size(1920, 1080, 320) == (320, 180)
    assert fit_size(1080, 1920, 320) == (180, 320)
    assert fit_size(4098, 18, 320) == (320, 1)


def test_pad_puts_the_picture_top_left_and_black_bottom_right() -> None:
    wide = resize_frame(_frame(64, 32), ResizeSpec(32, "pad"))
    assert wide.shape == (32, 32, 3) and wide.dtype == np.uint8
    assert wide[:16].min() > 150 and not wide[16:].any()
    tall = resize_frame(_frame(32, 64), ResizeSpec(32, "pad"))
    assert tall[:, :16].min() > 150 and not tall[:, 16:].any()


def test_stretch_fills_the_square() -> None:
    out = resize_frame(_frame(64, 32), ResizeSpec(16, "stretch"))
    assert out.shape == (16, 16, 3) and out.min() > 150


def test_pad_of_a_rotated_frame_pads_the_upright_picture() -> None:
    # 64x32 stored, displayed as 32x64 (portrait): the black band must be on the right.
    out = resize_frame(_frame(64, 32), ResizeSpec(32, "pad"), rotation=90)
    assert out[:, :16].min() > 150 and not out[:, 16:].any()


def test_pad_overwrites_stale_pixels_of_a_reused_buffer() -> None:
    buffer = np.full((32, 32, 3), 99, np.uint8)
    resize_frame(_frame(64, 32), ResizeSpec(32, "pad"), out=buffer)
    assert not buffer[16:].any()


@pytest.mark.parametrize(("size", "mode"), [(0, "pad"), (32, "crop")])
def test_invalid_specs_are_rejected(size: int, mode: str) -> None:
    with pytest.raises(ValueError):
        ResizeSpec(size, mode)  # type: ignore[arg-type]
