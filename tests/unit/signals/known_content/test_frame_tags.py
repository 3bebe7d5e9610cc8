"""The tags record's frames: what `vmc bank add --from-tags` needs, and the other hashes."""

from __future__ import annotations

from consumer.media.frame_hash import FrameHash
from consumer.signals.known_content import frame_tags

BOX, MIRROR, WHOLE = "a" * 64, "b" * 64, "c" * 64


def test_a_frame_without_borders_tags_its_box_and_mirror_hashes() -> None:
    assert frame_tags(1.23456, FrameHash(BOX, 90, MIRROR)) == {
        "at_s": 1.235, "pdq": BOX, "quality": 90, "mirror_pdq": MIRROR}


def test_a_bordered_frame_also_tags_its_whole_frame_hash() -> None:
    assert frame_tags(0.0, FrameHash(BOX, 70, MIRROR, WHOLE))["full_pdq"] == WHOLE


def test_a_frame_hashed_without_variants_keeps_the_old_fields() -> None:
    assert frame_tags(2.0, FrameHash(BOX, 100)) == {"at_s": 2.0, "pdq": BOX, "quality": 100}
