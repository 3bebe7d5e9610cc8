"""The content box of a frame: the frame without its uniform borders (letterbox and pillarbox
bars, mattes, a frame of any colour around the picture).

PDQ squeezes the whole image to 64x64, so a re-upload of known content inside bars (a 16:9
clip in a 4:3 or 9:16 frame, a 4:3 clip pillarboxed to 16:9) hashes far from the original
(measured in BENCHMARKS.md, "Known content: variants"): the bars are the cheapest evasion there
is. Hashing the box instead puts the picture back where the bank saw it.

A border line (row or column) is one where nearly every pixel is within a tolerance of one
colour, the same colour as the line at the edge: compression noise, a blurred bar edge and a
few stray pixels stay within it. The first lines at the very edge may be garbage (a bright
line, a half-decoded row) before the bar starts. Guards against cropping into the picture: a
bar must be that uniform (a dark night scene is not: its rows vary well beyond coding noise),
and a box smaller than `MIN_BOX_SHARE` of a side (a frame uniform as a whole, a fade to black)
keeps that side whole.

Pure numpy on the small frame the worker already hashes (~1 ms at 384x384).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BORDER_TOLERANCE = 8  # per channel, from the bar's colour: coding noise in a flat bar is 0-4
BORDER_SHARE = 0.97  # of a line's pixels within the tolerance for the line to be border
EDGE_GARBAGE_SHARE = 0.02  # of a side: lines at the very edge that may be garbage
_CHUNK = 16  # lines looked at per step
MIN_BOX_SHARE = 0.2  # of a side: a smaller box keeps that side whole (uniform frame, fade)

Box = tuple[int, int, int, int]  # y0, y1, x0, x1: the box is rgb[y0:y1, x0:x1]


def content_box(rgb: npt.NDArray[np.uint8]) -> Box:
    """(y0, y1, x0, x1) of the picture inside `rgb` ([H, W, 3] uint8), uniform borders
    removed; the whole frame when it has none."""
    height, width = rgb.shape[:2]
    y0, y1 = _span(rgb, height)
    x0, x1 = _span(rgb[y0:y1].transpose(1, 0, 2), width)
    return y0, y1, x0, x1


def _span(lines: npt.NDArray[np.uint8], size: int) -> tuple[int, int]:
    """The kept [start, end) of `lines` ([size, length, 3], line by line from one edge to the
    other) once the bars at both ends are taken off."""
    if size < 8 or lines.shape[1] == 0:
        return 0, size
    reach = size - max(1, int(np.ceil(MIN_BOX_SHARE * size)))  # lines a bar may take at most
    start = _bar(lines[:reach], size)
    end = size - _bar(lines[::-1][:reach], size)
    if end - start < MIN_BOX_SHARE * size:
        return 0, size
    return start, end


def _bar(lines: npt.NDArray[np.uint8], size: int) -> int:
    """How many lines, from the first one of `lines`, are border (garbage at the edge
    included); 0 when there is no bar or when it reaches as far as a bar may. Looked at in
    chunks from the edge: most frames have no bar, and a bar ends early."""
    garbage = max(1, round(EDGE_GARBAGE_SHARE * size))
    found = _first_uniform(lines[:garbage + 1])
    if found is None:
        return 0
    first, colour = found
    for at in range(first, len(lines), _CHUNK):
        chunk = lines[at:at + _CHUNK].astype(np.int16)
        near = np.abs(chunk - colour).max(axis=2) <= BORDER_TOLERANCE
        not_border = np.flatnonzero(near.mean(axis=1) < BORDER_SHARE)
        if len(not_border):
            return at + int(not_border[0])
    return 0  # uniform as far as a bar may go: no picture to find here


def _first_uniform(lines: npt.NDArray[np.uint8]) -> tuple[int, npt.NDArray[np.int16]] | None:
    """The first line whose pixels nearly all share one colour, and that colour (each line's
    median, from every 4th pixel: enough for a colour that nearly all of them have)."""
    colours = np.median(lines[:, ::4], axis=1).astype(np.int16)  # [L, 3]
    near = np.abs(lines.astype(np.int16) - colours[:, None, :]).max(axis=2) <= BORDER_TOLERANCE
    uniform = np.flatnonzero(near.mean(axis=1) >= BORDER_SHARE)
    if not len(uniform):
        return None
    return int(uniform[0]), colours[uniform[0]]
