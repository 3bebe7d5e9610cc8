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
from consumer.media.frame_hash import PDQ_SPEC, FrameHash, frame_hash, pdq_hash
from consumer.settings import SourceSettings
from consumer.signals.known_content.index import hamming
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


def _dist(a: str, b: str) -> int:
    return int(hamming(_bits(a)[None], _bits(b))[0])


def test_a_frame_without_bars_hashes_as_before_plus_its_mirror() -> None:
    photo = data.coffee()
    plain, boxed = pdq_hash(photo), frame_hash(photo)
    assert boxed.pdq == plain.pdq and boxed.quality == plain.quality
    assert boxed.full_pdq == ""  # the box is the frame
    assert boxed.mirror_pdq == pdq_hash(np.ascontiguousarray(photo[:, ::-1])).pdq
    assert boxed.queries() == [boxed.pdq, boxed.mirror_pdq]


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_a_letterboxed_frame_hashes_close_to_the_original(name: str) -> None:
    picture = _resize(getattr(data, name)(), 640, 360)
    framed = np.zeros((640, 640, 3), np.uint8)  # 16:9 inside a square: 140 rows of bar each
    framed[140:500] = picture
    original = frame_hash(_resize(picture, PDQ_SPEC.size, PDQ_SPEC.size)).pdq
    square = _resize(framed, PDQ_SPEC.size, PDQ_SPEC.size)  # what the worker hashes
    boxed = frame_hash(square)
    assert _dist(boxed.pdq, original) <= 16
    assert _dist(pdq_hash(square).pdq, original) > 31  # what the bars do to a plain hash
    assert boxed.full_pdq == pdq_hash(square).pdq


def test_a_mirrored_upload_matches_through_its_mirror_hash() -> None:
    photo = _resize(data.astronaut(), 384, 384)
    mirrored = frame_hash(np.ascontiguousarray(photo[:, ::-1]))
    original = frame_hash(photo)
    assert _dist(mirrored.pdq, original.pdq) > 31
    assert _dist(mirrored.mirror_pdq, original.pdq) <= 8


def test_frame_hash_keeps_the_field_order_other_code_builds_it_with() -> None:
    positional = FrameHash("ab" * 32, 90)
    assert (positional.mirror_pdq, positional.full_pdq) == ("", "")
    assert positional.queries() == ["ab" * 32]


def test_the_worker_hashes_the_box_of_a_letterboxed_video(tmp_path: Path) -> None:
    photo = _resize(data.astronaut(), 320, 180)
    framed = np.zeros((320, 320, 3), np.uint8)
    framed[70:250] = photo
    video = make_still_video(tmp_path / "boxed.mp4", framed, seconds=2.0, fps=10, gop=10)
    decode = decode_config(max_keyframes=4, min_interval_s=0.0, threads=1, frame_hashes=True)
    result = extract_keyframes(str(video), [ResizeSpec(64, "stretch")], decode, LOCAL)
    original = frame_hash(_resize(photo, PDQ_SPEC.size, PDQ_SPEC.size)).pdq
    assert result.hashes
    for frame in result.hashes:
        assert _dist(frame.pdq, original) <= 31 < _dist(frame.full_pdq, original)
        assert len(frame.mirror_pdq) == 64
