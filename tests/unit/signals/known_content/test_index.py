"""The known-content index answers exactly what comparing every query with every bank hash
answers (its filters may never drop a match), in the contract's order."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.signals.known_content import index as index_module
from consumer.signals.known_content.index import INDEXED_UP_TO, HashIndex

Hashes = npt.NDArray[np.uint8]


def brute_force(bank: Hashes, queries: Hashes, max_distance: int) -> tuple[list[int], ...]:
    """The reference: every pair's distance from the unpacked bits, kept if close enough."""
    bits = np.unpackbits(bank[None, :, :] ^ queries[:, None, :], axis=2)
    distance = bits.sum(axis=2, dtype=np.int64)
    query_no, rows = np.nonzero(distance <= max_distance)  # row-major: query, then row
    return query_no.tolist(), rows.tolist(), distance[query_no, rows].tolist()


def answer(bank: Hashes, queries: Hashes, max_distance: int) -> tuple[list[int], ...]:
    found = HashIndex(bank).search(queries, max_distance)
    assert all(part.dtype == np.int64 for part in found)
    return tuple(part.tolist() for part in found)


def flipped(row: Hashes, bits: list[int] | npt.NDArray[np.int64]) -> Hashes:
    unpacked = np.unpackbits(row)
    unpacked[np.asarray(bits, np.int64)] ^= 1
    return np.packbits(unpacked)


def spread_bits(count: int, offset: int = 0) -> list[int]:
    """`count` distinct bits dealt round-robin over the 16 segments: the pigeonhole's worst
    case (no segment, and no pair of segments, keeps more of the bits than it must)."""
    return [(i % 16) * 16 + (i // 16 + offset) % 16 for i in range(count)]


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 300), asked=st.integers(0, 12),
       distance=st.integers(0, INDEXED_UP_TO), near=st.integers(0, 64))
def test_the_index_finds_exactly_what_comparing_every_pair_finds(
        seed: int, size: int, asked: int, distance: int, near: int) -> None:
    rng = np.random.default_rng(seed)
    bank = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    if size:  # a cluster around one hash (like a scene's frames), with exact copies
        for i in range(1, size // 3):
            bank[i] = flipped(bank[0], rng.choice(256, int(rng.integers(0, 48)), replace=False))
        bank[size // 3: size // 3 + 3] = bank[0]
    queries = rng.integers(0, 256, (asked, 32), dtype=np.uint8)
    for q in range(asked):
        if size and q % 3 != 2:  # near a bank hash, some far, one an exact copy
            bits = rng.choice(256, int(rng.integers(0, near + 1)), replace=False)
            queries[q] = flipped(bank[int(rng.integers(0, size))], bits)
    if asked > 3:
        queries[3] = queries[1]  # a duplicate query is answered under both numbers
    assert answer(bank, queries, distance) == brute_force(bank, queries, distance)


@pytest.mark.parametrize("distance", range(INDEXED_UP_TO + 1))
def test_a_hash_exactly_at_the_distance_is_found_and_one_beyond_it_is_not(
        distance: int) -> None:
    rng = np.random.default_rng(distance)
    bank = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    at = flipped(bank[7], spread_bits(distance))
    beyond = flipped(bank[9], spread_bits(distance + 1, offset=3))
    queries = np.stack([at, beyond])
    expected = brute_force(bank, queries, distance)
    assert answer(bank, queries, distance) == expected
    found = list(zip(*expected, strict=True))
    assert (0, 7, distance) in found
    assert (1, 9) not in [(q, r) for q, r, _ in found]


@pytest.mark.parametrize("distance", [48, 64, 100, 256])
def test_beyond_the_indexed_distance_a_scan_answers_the_same(distance: int) -> None:
    rng = np.random.default_rng(distance)
    bank = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    queries = np.stack([flipped(bank[4], spread_bits(distance - 5)),
                        rng.integers(0, 256, 32, dtype=np.uint8), bank[4]])
    assert answer(bank, queries, distance) == brute_force(bank, queries, distance)


def test_answers_are_ordered_by_query_then_row_in_the_callers_numbering() -> None:
    rng = np.random.default_rng(1)
    bank = np.repeat(rng.integers(0, 256, (4, 32), dtype=np.uint8), 5, axis=0)
    rng.shuffle(bank)
    # Queries in no particular order, one asked twice: unique queries are sorted inside.
    queries = np.stack([bank[19], bank[0], flipped(bank[3], [1, 50, 200]), bank[19]])
    query_no, rows, distance = HashIndex(bank).search(queries, 31)
    assert query_no.tolist() == sorted(query_no.tolist())
    for q in range(len(queries)):
        mine = rows[query_no == q]
        assert mine.tolist() == sorted(mine.tolist()) and len(mine) >= 5
    assert rows[query_no == 0].tolist() == rows[query_no == 3].tolist()
    copies_of_3 = np.flatnonzero((bank == bank[3]).all(axis=1)).tolist()
    assert [r for r, d in zip(rows[query_no == 2].tolist(), distance[query_no == 2].tolist(),
                              strict=True) if d == 3] == copies_of_3
    assert answer(bank, queries, 31) == brute_force(bank, queries, 31)


def test_an_empty_bank_or_no_queries_find_nothing() -> None:
    rng = np.random.default_rng(2)
    bank = rng.integers(0, 256, (50, 32), dtype=np.uint8)
    no_queries = np.zeros((0, 32), np.uint8)
    for found in (HashIndex(bank).search(no_queries, 31),
                  HashIndex(np.zeros((0, 32), np.uint8)).search(bank[:3], 31),
                  HashIndex(np.zeros((0, 32), np.uint8)).search(bank[:3], 200)):
        assert [part.tolist() for part in found] == [[], [], []]
        assert all(part.dtype == np.int64 for part in found)
    assert len(HashIndex(np.zeros((0, 32), np.uint8))) == 0


def test_a_bank_of_identical_hashes_and_runs_larger_than_a_chunk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One value fills a whole bucket (a bank of black frames); the runs are expanded a few
    rows at a time, and a run longer than a chunk is expanded alone."""
    monkeypatch.setattr(index_module, "EXPAND_CHUNK", 7)
    rng = np.random.default_rng(3)
    bank = np.concatenate([np.zeros((40, 32), np.uint8),
                           rng.integers(0, 256, (60, 32), dtype=np.uint8)])
    queries = np.stack([flipped(np.zeros(32, np.uint8), spread_bits(30)), bank[45], bank[0],
                        flipped(bank[70], spread_bits(47))])
    for distance in (0, 15, 31, 47):
        assert answer(bank, queries, distance) == brute_force(bank, queries, distance)


def test_bad_shapes_and_a_negative_distance_are_refused() -> None:
    bank = np.zeros((3, 32), np.uint8)
    with pytest.raises(ValueError, match="hashes"):
        HashIndex(np.zeros((3, 31), np.uint8))
    with pytest.raises(ValueError, match="queries"):
        HashIndex(bank).search(np.zeros(32, np.uint8), 31)
    with pytest.raises(ValueError, match="negative"):
        HashIndex(bank).search(bank, -1)


def test_the_memory_it_holds_grows_with_the_bank() -> None:
    rng = np.random.default_rng(4)
    small, large = (HashIndex(rng.integers(0, 256, (size, 32), dtype=np.uint8))
                    for size in (1_000, 11_000))
    # Per row: 16 row numbers (int32) and 16 partner values (uint16); plus fixed tables.
    assert large.nbytes - small.nbytes == 10_000 * 16 * (4 + 2)
