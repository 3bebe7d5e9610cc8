"""Matching an upload's frame hashes against banks: per entry the closest pair, the query and
compared shares, which hash variant matched, the bank's rule, and allow-bank suppression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.media.frame_hash import FrameHash
from consumer.signals.known_content.index import hamming
from consumer.signals.known_content.matching import entry_matches, frame_queries, match_banks
from tests.unit.signals.known_content.banks import Video, flip, plain, random_hashes, videos

H = random_hashes(40)


@dataclass(frozen=True)
class Framed:
    """A frame hash with the content-box variants (FrameHash's fields after that work)."""

    pdq: str
    quality: int = 100
    mirror_pdq: str = ""
    full_pdq: str = ""


def upload(hexes: list[str], quality: int = 100) -> tuple[list[Any], list[float]]:
    return [FrameHash(h, quality) for h in hexes], [float(i) for i in range(len(hexes))]


def test_a_plain_list_matches_on_any_one_frame_with_the_closest_pair() -> None:
    bank = plain("cases", [H[0], H[1]], ["case-0", None], action="block")
    frames, pts = upload([H[5], flip(H[0], 12), H[6], flip(H[0], 3)])
    (match,) = match_banks([bank], frames, pts, 4.0)
    assert (match.bank, match.action, match.entry_id, match.kind, match.label) == (
        "cases", "block", H[0], "frame", "case-0")
    assert (match.distance, match.at_s, match.entry_at_s, match.variant) == (3, 3.0, 0.0, "box")
    assert match.frames == (1, 3) and match.query_share == 0.5 and match.compared_share == 1.0
    assert match.covered_s == 2.0 and match.decides
    assert match_banks([bank], *upload([H[5], flip(H[0], 32)]), 2.0) == []


def _entry(vid: str, hexes: list[str], step: float = 1.0, quality: int = 100) -> Video:
    return Video(vid, [(h, quality, i * step) for i, h in enumerate(hexes)], label=f"{vid}-l")


def test_a_video_entry_decides_on_both_shares() -> None:
    bank = videos("vids", [_entry("v1", H[:10]), _entry("v2", H[10:20])], action="review")
    # The upload re-plays 6 of v1's 10 frames (re-encoded: a few bits off), then 4 others.
    frames, pts = upload([flip(h, 5) for h in H[:6]] + H[30:34])
    (match,) = match_banks([bank], frames, pts, 10.0)
    assert (match.entry_id, match.kind, match.label) == ("v1", "video", "v1-l")
    assert match.query_share == pytest.approx(0.6)
    assert match.compared_share == pytest.approx(0.6)  # 6 slots of 1 s of 10
    assert match.entry_at_s == 0.0 and match.distance == 5
    # 2 frames of 10 match: 0.2 of the upload, below min_query_share 0.3: no match.
    short, short_pts = upload(H[:2] + H[30:38])
    assert match_banks([bank], short, short_pts, 10.0) == []
    (partial,) = entry_matches(bank, frame_queries(short), short_pts)
    assert not partial.decides and partial.query_share == pytest.approx(0.2)


def test_the_compared_share_weighs_each_entry_frame_by_its_slot() -> None:
    entry = Video("v", [(H[0], 100, 0.0), (H[1], 100, 1.0), (H[2], 100, 2.0),
                        (H[3], 100, 10.0)])
    bank = videos("vids", [entry], min_query_share=0, min_compared_share=0)
    (match,) = match_banks([bank], *upload([H[2]]), 1.0)
    assert match.compared_share == pytest.approx(8 / 11)  # slots 1, 1, 8 and a typical 1
    (match,) = match_banks([bank], *upload([H[3]]), 1.0)
    assert match.compared_share == pytest.approx(1 / 11)


def test_low_quality_frames_are_left_out_on_both_sides() -> None:
    entry = Video("v", [(H[0], 100, 0.0), (H[1], 10, 1.0), (H[2], 100, 2.0)])
    bank = videos("vids", [entry], min_query_share=0, min_compared_share=0, min_quality=50)
    frames = [FrameHash(H[0], 100), FrameHash(H[1], 100), FrameHash(H[2], 20)]
    (match,) = match_banks([bank], frames, [0.0, 1.0, 2.0], 3.0)
    assert match.frames == (0,)  # H[1] is a low-quality entry frame, H[2] a low-quality query
    assert match.query_share == pytest.approx(0.5)  # of the 2 analysed frames
    assert match.compared_share == pytest.approx(0.5)  # H[0] of the entry's H[0], H[2]
    assert match_banks([bank], [FrameHash(H[0], 20)], [0.0], 1.0) == []


def test_the_mirror_image_and_the_whole_frame_are_queried_too() -> None:
    bank = plain("cases", [H[0], H[1]])
    mirrored = Framed(H[7], mirror_pdq=flip(H[0], 2))
    whole = Framed(H[8], full_pdq=H[1])
    found = {m.entry_id: m for m in match_banks([bank], [mirrored, whole],  # type: ignore[list-item]
                                                [0.0, 1.0], 2.0)}
    assert (found[H[0]].variant, found[H[0]].distance, found[H[0]].at_s) == ("mirror", 2, 0.0)
    assert (found[H[1]].variant, found[H[1]].distance, found[H[1]].at_s) == ("full", 0, 1.0)


def test_match_mode_frame_or_video_overrides_the_entry_kind() -> None:
    entry = _entry("v1", H[:10])
    frames, pts = upload([H[0], *H[30:39]])
    assert match_banks([videos("vids", [entry])], frames, pts, 10.0) == []
    (match,) = match_banks([videos("vids", [entry], match="frame")], frames, pts, 10.0)
    assert match.decides and match.query_share == pytest.approx(0.1)
    assert match_banks([plain("cases", [H[0]], match="video")], frames, pts, 10.0) == []


def test_an_allow_entry_suppresses_matches_resting_on_the_same_frames() -> None:
    allow = plain("known-fp", [H[0]], ["studio logo"], action="allow")
    block = plain("cases", [flip(H[0], 4), H[1]], ["case-a", "case-b"], action="block")
    frames, pts = upload([H[0], H[1], H[9]])
    found = match_banks([block, allow], frames, pts, 3.0)
    by = {(m.bank, m.label): m for m in found}
    assert by[("known-fp", "studio logo")].suppressed_by is None
    assert by[("cases", "case-a")].suppressed_by == "known-fp"  # rested on frame 0 only
    assert by[("cases", "case-b")].suppressed_by is None  # frame 1: not allowed
    assert len(found) == 3


def test_a_video_match_that_holds_without_the_allowed_frames_stays() -> None:
    allow = plain("known-fp", [H[0]], action="allow")
    bank = videos("vids", [_entry("v1", H[:4])], action="block", min_query_share=0.5,
                  min_compared_share=0.5)
    frames, pts = upload(H[:4])
    by_bank = {m.bank: m for m in match_banks([bank, allow], frames, pts, 4.0)}
    kept = by_bank["vids"]
    assert kept.suppressed_by is None and kept.frames == (1, 2, 3)
    assert kept.query_share == pytest.approx(0.75) and kept.compared_share == pytest.approx(0.75)


def test_one_index_search_per_bank_for_all_query_hashes() -> None:
    bank = plain("cases", [H[0]])
    calls: list[int] = []
    search = bank.index.search

    def counted(queries: np.ndarray, max_distance: int) -> Any:
        calls.append(len(queries))
        return search(queries, max_distance)

    bank.index.search = counted  # type: ignore[method-assign]
    frames = [Framed(H[0], mirror_pdq=H[1], full_pdq=H[2]), Framed(H[3], mirror_pdq=H[4])]
    match_banks([bank], frames, [0.0, 1.0], 2.0)  # type: ignore[arg-type]
    assert calls == [5]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), entries=st.integers(1, 6), uploads=st.integers(1, 12),
       distance=st.integers(0, 40))
def test_shares_agree_with_a_brute_force_count(seed: int, entries: int, uploads: int,
                                               distance: int) -> None:
    rng = np.random.default_rng(seed)
    base = random_hashes(8, seed)
    pick = lambda: flip(base[int(rng.integers(0, 8))], int(rng.integers(0, 40)),  # noqa: E731
                        int(rng.integers(0, 1000)))
    bank = videos("vids", [Video(f"v{e}", [(pick(), int(rng.integers(0, 101)), float(i))
                                           for i in range(int(rng.integers(1, 6)))])
                           for e in range(entries)], max_distance=distance, match="frame")
    frames = [FrameHash(pick(), int(rng.integers(0, 101))) for _ in range(uploads)]
    pts = [float(i) for i in range(uploads)]
    found = {m.entry: m for m in entry_matches(bank, frame_queries(frames), pts)}
    b = bank.bank
    analysed = [f for f, fr in enumerate(frames) if fr.quality >= 50]
    for e in range(entries):
        rows = [r for r in np.flatnonzero(b.entry_of == e) if b.qualities[r] >= 50]
        hits = {(f, r) for f in analysed for r in rows
                if hamming(b.hashes[r:r + 1], np.frombuffer(bytes.fromhex(frames[f].pdq),
                                                            np.uint8))[0] <= distance}
        if not hits:
            assert e not in found
            continue
        match = found[e]
        assert match.frames == tuple(sorted({f for f, _ in hits}))
        assert match.query_share == pytest.approx(len(match.frames) / len(analysed))
        assert match.distance == min(int(hamming(b.hashes[r:r + 1], np.frombuffer(
            bytes.fromhex(frames[f].pdq), np.uint8))[0]) for f, r in hits)
        if len(rows) == 1:
            assert match.compared_share == 1.0
        else:
            assert 0 < match.compared_share <= 1.0
            assert (match.compared_share == pytest.approx(1.0)) == ({r for _, r in hits}
                                                                   == set(rows))
