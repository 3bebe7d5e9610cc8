"""Resize a decoded frame to a model's square input, inside FFmpeg's scaler.

`stretch` scales straight to size x size. `pad` keeps the aspect ratio: the frame is scaled
to fit and placed at the top-left of a black square, which equals padding to a square at the
bottom/right and then resizing (what the default detector's reference does). Scaling and the
conversion to rgb24 run in swscale; numpy only copies the scaled block into place and applies
the display rotation to the small output (rotating after scaling gives the same pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation

if TYPE_CHECKING:
    from consumer.models.specs import ModelSpec

# Area averaging is swscale's best downscaler for large ratios (1080p -> 320) at a cost close
# to bilinear; see bench/keyframes.py.
INTERPOLATION = Interpolation.AREA


@dataclass(frozen=True)
class ResizeSpec:
    """One model input: the output is size x size x 3 RGB uint8."""

    size: int
    mode: Literal["pad", "stretch"]

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"size must be positive, got {self.size}")
        if self.mode not in ("pad", "stretch"):
            raise ValueError(f"mode must be 'pad' or 'stretch', got {self.mode!r}")

    @classmethod
    def of(cls, model: ModelSpec) -> ResizeSpec:
        """The resize a served model's input takes."""
        return cls(model.input_size, model.resize_mode)


def display_rotation(frame: VideoFrame) -> int:
    """The frame's display rotation in counter-clockwise degrees, 0-359 (what `resize_frame`
    takes); FFmpeg reads it from the container's matrix or the stream's orientation SEI."""
    return round(frame.rotation or 0) % 360


def fit_size(width: int, height: int, size: int) -> tuple[int, int]:
    """The (w, h) of a width x height image scaled so its longer side is `size`."""
    longest = max(width, height)
    return (max(1, round(width * size / longest)), max(1, round(height * size / longest)))


def resize_frame(frame: VideoFrame, spec: ResizeSpec, rotation: int = 0,
                 out: npt.NDArray[np.uint8] | None = None) -> npt.NDArray[np.uint8]:
    """The frame as [size, size, 3] uint8 RGB, upright for a rotation multiple of 90 degrees.

    `rotation` is counter-clockwise degrees (PyAV's `frame.rotation`). `out`, if given, is the
    array to fill, e.g. a view into shared memory.
    """
    turns = (round(rotation / 90) % 4) if rotation % 90 == 0 else 0
    if out is None:
        out = np.empty((spec.size, spec.size, 3), np.uint8)
    if spec.mode == "stretch":
        scaled = _rgb(frame, spec.size, spec.size)
        out[...] = np.rot90(scaled, turns) if turns else scaled
        return out
    upright_w, upright_h = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    fit_w, fit_h = fit_size(upright_w, upright_h, spec.size)
    scaled = _rgb(frame, fit_h, fit_w) if turns % 2 else _rgb(frame, fit_w, fit_h)
    out[:fit_h, :fit_w] = np.rot90(scaled, turns) if turns else scaled
    out[fit_h:] = 0
    out[:fit_h, fit_w:] = 0
    return out


def _rgb(frame: VideoFrame, width: int, height: int) -> npt.NDArray[np.uint8]:
    scaled = frame.reformat(width=width, height=height, format="rgb24",
                            interpolation=INTERPOLATION)
    return cast(npt.NDArray[np.uint8], scaled.to_ndarray())
