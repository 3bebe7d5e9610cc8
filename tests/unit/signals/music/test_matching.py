"""Segment matching on fingerprints made up here: exact positions, competing tracks, limits.

Reference "tracks" are random items held for 1-3 items each (as music holds notes); uploads
embed a slice with a share of its bits flipped, between random items.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from consumer.media.chromaprint import ITEM_S
from consumer.signals.music.catalogue import Track
from consumer.signals.music.matching import (
    CatalogueIndex,
    MusicMatch,
    _run_starts,
    bit_errors,
    keys,
)

Items = npt.NDArray[np.uint32]


def _track(seed: int, items: int = 600) -> Items:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**32, size=items, dtype=np.uint64).astype(np.uint32)
    return np.repeat(values, rng.integers(1, 4, size=items))[:items]


def _flip(items: Items, share: float, seed: int, odd_share: float | None = None) -> Items:
    """Each bit flipped with probability `share` (the odd bits with `odd_share` if given)."""
    rng = np.random.default_rng(seed)
    shares = np.full(32, share)
    if odd_share is not None:
        shares[1::2] = odd_share
    bits = rng.random((items.size, 32)) < shares
    mask = (bits * (np.uint64(1) << np.arange(32, dtype=np.uint64))).sum(axis=1)
    return items ^ mask.astype(np.uint32)


def _random(items: int, seed: int) -> Items:
    return np.random.default_rng(seed).integers(0, 2**32, size=items,
                                                dtype=np.uint64).astype(np.uint32)


@pytest.fixture(scope="module")
def index() -> CatalogueIndex:
    return CatalogueIndex([Track(f"t{k}", _track(k)) for k in range(40)])


def _near(match: MusicMatch, start_item: int, end_item: int, ref_item: int) -> bool:
    """Within 1 s of the slice's items (matching reports the time of item centres)."""
    shift = match.start_s - start_item * ITEM_S
    return (abs(match.end_s - match.start_s - (end_item - start_item) * ITEM_S) <= 1.0
            and abs(match.reference_offset_s - ref_item * ITEM_S - shift) <= 1.0
            and 0.0 <= shift <= 2.6)


def test_a_slice_of_a_track_is_found_where_it_plays(index: CatalogueIndex) -> None:
    query = _random(800, 1)
    query[300:460] = _flip(_track(7)[200:360], 0.15, 2)
    (match,) = index.match(query)
    assert match.track_id == "t7"
    assert _near(match, 300, 460, 200)
    assert 0.8 < match.confidence < 0.9


def test_two_tracks_in_one_upload_come_back_in_upload_order(index: CatalogueIndex) -> None:
    query = _random(900, 3)
    query[100:250] = _flip(_track(12)[400:550], 0.1, 4)
    query[500:800] = _flip(_track(3)[0:300], 0.1, 5)
    matches = index.match(query)
    assert [m.track_id for m in matches] == ["t12", "t3"]
    assert _near(matches[0], 100, 250, 400) and _near(matches[1], 500, 800, 0)


def test_where_two_tracks_claim_the_same_time_the_closer_one_wins() -> None:
    original = _track(100)
    cover = _track(101)
    cover[50:250] = _flip(original[100:300], 0.2, 6)  # a noisier copy inside another track
    index = CatalogueIndex([Track("cover", cover), Track("original", original)])
    query = _random(500, 7)
    query[150:350] = _flip(original[100:300], 0.05, 8)
    assert [m.track_id for m in index.match(query)] == ["original"]


def test_short_or_weak_agreement_is_not_reported(index: CatalogueIndex) -> None:
    query = _random(600, 9)
    query[200:248] = _flip(_track(5)[100:148], 0.1, 10)  # ~6 s
    assert index.match(query) == []
    (match,) = index.match(query, min_duration_s=4.0)
    assert match.track_id == "t5"
    weak = _random(600, 11)
    weak[200:400] = _flip(_track(5)[100:300], 0.6, 12, odd_share=0.05)  # ~0.67 agree
    assert index.match(weak) == []
    assert [m.track_id for m in index.match(weak, min_confidence=0.6)] == ["t5"]


def test_unrelated_or_empty_input_matches_nothing(index: CatalogueIndex) -> None:
    assert index.match(_random(5000, 13)) == []
    assert index.match(np.zeros(0, dtype=np.uint32)) == []
    assert CatalogueIndex([]).match(_random(100, 14)) == []


def test_a_held_note_votes_once_so_constant_stretches_carry_no_evidence() -> None:
    held = np.full(400, 0x12345678, dtype=np.uint32)
    index = CatalogueIndex([Track(f"s{k}", held) for k in range(50)])
    assert index.items == 50  # one entry per track, not 400
    assert index.match(held) == []


def test_keys_are_the_odd_bits_and_bit_errors_count_differences() -> None:
    values = np.array([0xAAAAAAAA, 0x55555555, 0x80000002], dtype=np.uint32)
    assert keys(values).tolist() == [0xFFFF, 0, 0x8001]
    assert bit_errors(values, np.zeros(3, dtype=np.uint32)).tolist() == [16, 16, 2]


def test_neighbouring_alignments_are_looked_up_without_a_search() -> None:
    from consumer.signals.music.matching import _at_shift

    cells = np.array([3, 4, 6, 9, 10, 11], dtype=np.int64)
    votes = np.array([1, 2, 3, 4, 5, 6], dtype=np.int64)
    assert _at_shift(cells, votes, 1).tolist() == [2, 0, 0, 5, 6, 0]
    assert _at_shift(cells, votes, -1).tolist() == [0, 1, 0, 0, 4, 5]
    assert _at_shift(cells, votes, 2).tolist() == [0, 3, 0, 6, 0, 0]
    assert _at_shift(cells, votes, -2).tolist() == [0, 0, 2, 0, 0, 4]


def test_a_key_far_commoner_than_the_others_is_not_indexed() -> None:
    silence = 0x12345678
    tracks = [Track(f"t{k}", np.concatenate([np.full(5, silence, dtype=np.uint32),
                                              _track(k, 200)])) for k in range(80)]
    index = CatalogueIndex(tracks)
    assert index.items == sum(np.count_nonzero(_run_starts(keys(t.fingerprint))) - 1
                              for t in tracks)


def test_chunks_cover_the_upload_overlap_and_stay_under_their_hit_budget(
        index: CatalogueIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    from consumer.signals.music import matching

    monkeypatch.setattr(matching, "_CHUNK_HITS", 400)
    query = _random(20_000, 21)
    usable = np.ones(query.size, dtype=bool)
    chunks = index._chunks(query, usable)
    assert chunks[0][0] == 0 and chunks[-1][1] == query.size
    for (_, end), (lo, _) in itertools.pairwise(chunks):
        assert lo == max(0, end - matching._OVERLAP_ITEMS)
    track, _, _ = index._hits(query[chunks[0][0]:chunks[0][1]], usable[:chunks[0][1]])
    assert 0 < track.size <= 400
    assert all(hi - lo <= matching._CHUNK_ITEMS for lo, hi in chunks)
    assert max(index._hits(query[lo:hi], usable[lo:hi])[0].size for lo, hi in chunks) <= 400
    monkeypatch.setattr(matching, "_CHUNK_HITS", 1 << 20)
    assert len(index._chunks(query, usable)) == -(-20_000 // (matching._CHUNK_ITEMS
                                                            - matching._OVERLAP_ITEMS))


def test_music_across_a_chunk_edge_is_found_as_in_one_pass(
        index: CatalogueIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    from consumer.signals.music import matching

    query = _random(3000, 22)
    query[900:1100] = _flip(_track(9)[100:300], 0.12, 23)
    query[2000:2150] = _flip(_track(4)[300:450], 0.12, 24)
    whole = index.match(query)
    monkeypatch.setattr(matching, "_CHUNK_ITEMS", 1000)  # edges at 1000, 1872, 2744
    monkeypatch.setattr(matching, "_OVERLAP_ITEMS", 128)
    assert len(index._chunks(query, np.ones(query.size, dtype=bool))) == 4
    assert index.match(query) == whole
    assert [m.track_id for m in whole] == ["t9", "t4"]


def test_noise_like_stretches_of_the_upload_neither_vote_nor_agree(
        index: CatalogueIndex) -> None:
    query = _random(800, 25)
    query[300:460] = _flip(_track(7)[200:360], 0.15, 2)
    usable = np.ones(query.size, dtype=bool)
    usable[300:460] = False
    assert index._hits(query[300:460], usable[300:460])[0].size == 0
    lo, share = index._errors(query, usable, 7, 200 - 300)
    assert np.all(share[300 - lo:460 - lo] == 0.5) and share[:300 - lo].mean() > 0.4


def test_match_is_pure_and_safe_on_several_threads(index: CatalogueIndex) -> None:
    from concurrent.futures import ThreadPoolExecutor

    queries = []
    for seed in range(6):
        query = _random(700, 30 + seed)
        query[200:400] = _flip(_track(seed)[50:250], 0.1, 40 + seed)
        queries.append(query)
    alone = [index.match(q) for q in queries]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(index.match, queries * 3)) == alone * 3
    assert [m[0].track_id for m in alone] == [f"t{seed}" for seed in range(6)]
    with pytest.raises(ValueError, match="read-only"):
        index._items[0] = 0  # the index cannot change under a thread that matches
