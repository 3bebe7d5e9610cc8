"""NV12 pictures to a model's square RGB input with torch, on the device they were decoded on.

It matches `resize.resize_frame` (the CPU path, FFmpeg's swscale) so a GPU node and a CPU node
feed the models the same pixels within rounding: the planes are scaled first (area averaging
when shrinking, bilinear when enlarging), then converted with the stream's matrix (BT.709
where the stream says so, BT.601 otherwise, as swscale does) and range (limited unless the
stream says full), then turned upright and placed top-left on black for `pad`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional

from consumer.media.resize import ResizeSpec, fit_size


@dataclass(frozen=True)
class Colour:
    """How a stream's YUV maps to RGB."""

    bt709: bool = False
    full_range: bool = False


def _scale(plane: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[1, C, h, w] float -> [1, C, height, width]."""
    if plane.shape[-2:] == (height, width):
        return plane
    if height <= plane.shape[-2] and width <= plane.shape[-1]:
        return functional.interpolate(plane, size=(height, width), mode="area")
    return functional.interpolate(plane, size=(height, width), mode="bilinear", align_corners=False)


def nv12_to_rgb(nv12: torch.Tensor, width: int, height: int, *, out_w: int, out_h: int,
                colour: Colour) -> torch.Tensor:
    """An NV12 surface ([>= height * 3/2, >= width] uint8) scaled to [out_h, out_w, 3] uint8."""
    luma = nv12[:height, :width].to(torch.float32)[None, None]
    chroma = (nv12[height:height + height // 2, :width]
              .reshape(height // 2, width // 2, 2).permute(2, 0, 1)[None].to(torch.float32))
    y = _scale(luma, out_h, out_w)[0, 0]
    uv = _scale(chroma, out_h, out_w)[0] - 128.0
    if colour.full_range:
        y_gain, c_gain = 1.0, 1.0
    else:
        y, y_gain, c_gain = y - 16.0, 255.0 / 219.0, 255.0 / 224.0
    kr, kb = (0.2126, 0.0722) if colour.bt709 else (0.299, 0.114)
    kg = 1.0 - kr - kb
    u, v = uv[0] * c_gain, uv[1] * c_gain
    y = y * y_gain
    r = y + 2.0 * (1.0 - kr) * v
    g = y - (2.0 * kb * (1.0 - kb) / kg) * u - (2.0 * kr * (1.0 - kr) / kg) * v
    b = y + 2.0 * (1.0 - kb) * u
    return torch.stack([r, g, b], dim=-1).round_().clamp_(0, 255).to(torch.uint8)


def resize_nv12(nv12: torch.Tensor, width: int, height: int, spec: ResizeSpec, *,
                rotation: int, colour: Colour) -> torch.Tensor:
    """The picture as [size, size, 3] uint8 RGB, upright, as `resize.resize_frame` makes it."""
    turns = (round(rotation / 90) % 4) if rotation % 90 == 0 else 0
    size = spec.size
    if spec.mode == "stretch":
        scaled = nv12_to_rgb(nv12, width, height, out_w=size, out_h=size, colour=colour)
        return torch.rot90(scaled, turns, dims=(0, 1)) if turns else scaled
    upright_w, upright_h = (height, width) if turns % 2 else (width, height)
    fit_w, fit_h = fit_size(upright_w, upright_h, size)
    out_w, out_h = (fit_h, fit_w) if turns % 2 else (fit_w, fit_h)
    scaled = nv12_to_rgb(nv12, width, height, out_w=out_w, out_h=out_h, colour=colour)
    out = torch.zeros((size, size, 3), dtype=torch.uint8, device=nv12.device)
    out[:fit_h, :fit_w] = torch.rot90(scaled, turns, dims=(0, 1)) if turns else scaled
    return out
