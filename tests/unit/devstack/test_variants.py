"""The generated variant set: every source has each variant at its declared size and length,
and the sources are different pictures from each other and from the unrelated clips."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from consumer.media.frame_hash import pdq_hash
from consumer.signals.known_content.index import hamming
from devstack.variants import (
    FPS,
    SOURCE_S,
    VARIANTS,
    make_variant_set,
    source_clip,
    unrelated_clip,
)


def _size_and_frames(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return frames[0].width, frames[0].height, len(frames)


def test_every_variant_is_made_at_its_size(tmp_path: Path) -> None:
    chosen = ("letterbox_9x16", "pillarbox_2x1_white", "trim_middle", "longer_cut")
    made = make_variant_set(tmp_path, sources=1, unrelated=1, variants=chosen)
    assert set(made) == {("source-0", "source"), ("unrelated-0", "unrelated"),
                         *(("source-0", v) for v in chosen)}
    length = int(SOURCE_S * FPS)
    for variant in chosen:
        _, width, height, _ = VARIANTS[variant]
        got_w, got_h, frames = _size_and_frames(made[("source-0", variant)])
        assert (got_w, got_h) == (width, height)
        expected = {"trim_middle": length // 2, "longer_cut": length + 4 * FPS}.get(
            variant, length)
        assert frames == expected


def test_sources_and_unrelated_clips_are_far_apart() -> None:
    firsts = [source_clip(0)[0], source_clip(1)[0], unrelated_clip(0)[0], unrelated_clip(1)[0]]
    hashes = [np.frombuffer(bytes.fromhex(pdq_hash(f).pdq), np.uint8) for f in firsts]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1:]:
            assert int(hamming(a[None], b)[0]) > 60
