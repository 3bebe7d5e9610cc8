"""PDQ of analysed frames: the reference library's hash in the reference hex form, stable
under the changes an upload goes through, and one per analysed frame."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pdqhash
import pytest
from skimage import data

from consumer.media import ResizeSpec, extract_keyframes
from consumer.media.frame_hash import PDQ_SPEC, pdq_hash
from consumer.settings import SourceSettings
from consumer.signals.known_content.lists import hamming
from devstack.samples import make_still_video
from tests.unit.media.configs import decode_config

LOCAL = SourceSettings(allowed_schemes=["file"])


def _bits(hex_hash: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(hex_hash), np.uint8)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return frame.reformat(width, height, "rgb24", interpolation="AREA").to_ndarray()


def test_the_hex_form_is_the_reference_bit_order() -> None:
    image = data.chelsea()
    bits, quality = pdqhash.compute(image)
    frame = pdq_hash(image)
    assert len(frame.pdq) == 64 and frame.quality == quality
    # Reference format: words w[15]..w[0] as %04hx, bit k = (w[k >> 4] >> (k & 15)) & 1;
    # pdqhash returns the bits with bit 255 first.
    value = int(frame.pdq, 16)
    assert [(value >> k) & 1 for k in range(256)] == list(bits[::-1])


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_the_square_resize_hashes_close_to_the_full_frame(name: str) -> None:
    full = _resize(getattr(data, name)(), 1920, 1080)
    near = pdq_hash(_resize(full, PDQ_SPEC.size, PDQ_SPEC.size))
    assert int(hamming(_bits(near.pdq)[None], _bits(pdq_hash(full).pdq))[0]) <= 12


def test_unrelated_photos_are_far_apart() -> None:
    a, b = pdq_hash(data.astronaut()), pdq_hash(data.coffee())
    assert int(hamming(_bits(a.pdq)[None], _bits(b.pdq))[0]) > 80


def test_every_analysed_frame_has_a_hash_unless_switched_off(tmp_path: Path) -> None:
    photo = _resize(data.astronaut(), 320, 240)
    video = make_still_video(tmp_path / "still.mp4", photo, seconds=3.0, fps=10, gop=10)
    spec = ResizeSpec(64, "stretch")
    decode = decode_config(max_keyframes=8, min_interval_s=0.0, threads=1, frame_hashes=True)
    result = extract_keyframes(str(video), [spec], decode, LOCAL)
    assert len(result.hashes) == len(result.pts_s) >= 3
    reference = _bits(pdq_hash(photo).pdq)
    assert all(int(hamming(_bits(h.pdq)[None], reference)[0]) <= 31 for h in result.hashes)
    assert result.hash_s > 0
    off = extract_keyframes(str(video), [spec], dataclasses.replace(decode, frame_hashes=False),
                            LOCAL)
    assert off.hashes == [] and off.pts_s == result.pts_s
