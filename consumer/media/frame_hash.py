"""PDQ perceptual hashes of the analysed frames, the hash that industry hash-sharing uses for
images and video frames: lists of known content can be matched, and downstream can search for
near-duplicates.

PDQ reduces any image to 64x64 luminance without keeping its aspect ratio, so the hash is
taken from a small square resize rather than the full frame: measured on four scikit-image
photos at 1920x1080, a 384x384 resize hashes within 2-10 bits of the full frame at ~1.5 ms
(256x256: 16-26 bits; 512x512: 4-16 bits).

PDQ is not robust to bars or to a mirror image, the two cheapest evasions of a re-upload: a
frame's hash is taken from its content box (consumer.media.content_box: uniform borders off),
the mirror's comes from the same pass (`pdqhash.compute_dihedral` gives all 8 rotations and
flips for little more than one), and the whole frame's is kept as well when the box is smaller,
so a bank that holds whole-frame hashes (bars included) still matches. Measured in
BENCHMARKS.md, "Known content: variants".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pdqhash

from consumer.media.content_box import content_box
from consumer.media.resize import ResizeSpec

PDQ_SPEC = ResizeSpec(384, "stretch")
PDQ_HEX_DIGITS = 64
# pdqhash.compute_dihedral's order (the reference's): original, rotate 90, 180, 270, flip
# upside down, flip left-right, transpose, anti-transpose.
DIHEDRAL_ORIGINAL = 0
DIHEDRAL_MIRROR = 5  # flipped left-right


@dataclass(frozen=True)
class FrameHash:
    """A frame's PDQ hashes as the 64 hex digits hash lists use, and its quality (0-100).

    `pdq` is the content box's hash (the whole frame's when it has no border), `mirror_pdq`
    the box's flipped left-right, `full_pdq` the whole frame's only when the box is smaller
    than the frame; "" where not computed. Banks built by this project hold `pdq`.
    """

    pdq: str
    quality: int
    mirror_pdq: str = ""
    full_pdq: str = ""

    def queries(self) -> list[str]:
        """Every hash of this frame worth looking up: `pdq`, then the others that exist."""
        return [h for h in (self.pdq, self.mirror_pdq, self.full_pdq) if h]


def _hex(bits: npt.NDArray[np.uint8]) -> str:
    return np.packbits(np.asarray(bits, np.uint8)).tobytes().hex()


def pdq_hash(rgb: npt.NDArray[np.uint8]) -> FrameHash:
    """PDQ of an RGB uint8 image as it is (no box, no mirror), formatted like the reference
    implementation (bit 255 first), so hashes compare with those of ThreatExchange and other
    PDQ tools."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb, dtype=np.uint8))
    return FrameHash(_hex(bits), int(quality))


def frame_hash(rgb: npt.NDArray[np.uint8]) -> FrameHash:
    """The hashes matching uses for one frame ([H, W, 3] RGB uint8): the content box's, its
    mirror's, and the whole frame's when the box is smaller (see the module's docstring)."""
    y0, y1, x0, x1 = content_box(rgb)
    box = np.ascontiguousarray(rgb[y0:y1, x0:x1], dtype=np.uint8)
    hashes, quality = pdqhash.compute_dihedral(box)
    cropped = (y1 - y0, x1 - x0) != rgb.shape[:2]
    return FrameHash(_hex(hashes[DIHEDRAL_ORIGINAL]), int(quality),
                     mirror_pdq=_hex(hashes[DIHEDRAL_MIRROR]),
                     full_pdq=pdq_hash(rgb).pdq if cropped else "")
