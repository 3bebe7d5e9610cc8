"""Which hashes of a bank lie within a distance of an upload's frame hashes, all queries at
once (pure; the interface matching uses).

One upload asks 16-48 questions (box, mirror and full-frame hash of each analysed frame) of a
bank of up to millions of frame hashes, on the poll loop's core: the answer must take tens of
milliseconds, single-threaded, in numpy, and cost memory in proportion to the bank.

Multi-index hashing, with a pair filter. The 256 bits are 16 segments of 16 bits, taken in 8
pairs of 32 bits. Two hashes within distance `d` differ by at most `d // 8` bits on some pair
(pigeonhole over 8 pairs), so on one segment of that pair by at most `r = d // 16` bits, and on
its partner by at most `d // 8` minus that. So for each segment the index keeps the rows sorted
by the segment's value (a direct table of 65,537 offsets gives each value's run of rows, no
binary search) and, in the same order, the partner segment's value. A query looks up the runs of
its segment's values within `r` bits, keeps the rows whose partner is close enough (a
sequential read, no random access into the bank), and only those few are compared in full.
Every query's runs are expanded and filtered together, in a handful of numpy passes.

At distance 31: 17 runs per segment (about 25,000 rows per query on 6 million random hashes, of
which ~0.3% pass the partner filter). Memory: the hashes (32 bytes a row) plus, per row, 16
row numbers (int32) and 16 partner values (uint16): 96 bytes a row. Beyond 47 bits (above the
settings' bound) the runs would cover much of the bank, and a plain scan answers instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

Found = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]

HASH_BYTES = 32
SEGMENTS = 16  # of 16 bits; segments 2k and 2k+1 are a pair
PAIRS = SEGMENTS // 2
VALUES = 1 << 16
INDEXED_UP_TO = 47  # beyond, a segment's radius is 3 (697 runs a segment): a scan is cheaper
EXPAND_CHUNK = 1 << 22  # rows expanded at once: bounds the temporary arrays (~60 MB)
SCAN_CHUNK = 1 << 14  # bank rows compared at once on the scan path

_POP8 = np.array([bin(i).count("1") for i in range(256)], np.uint8)
POPCOUNT16: npt.NDArray[np.uint8] = (_POP8[np.arange(VALUES) & 0xFF]
                                     + _POP8[np.arange(VALUES) >> 8]).astype(np.uint8)


def _empty() -> Found:
    empty = np.empty(0, np.int64)
    return empty, empty, empty.copy()


def _flip_masks(bits: int) -> npt.NDArray[np.uint16]:
    """The 16-bit masks with exactly `bits` bits set."""
    return np.array([sum(1 << b for b in chosen) for chosen in combinations(range(16), bits)],
                    np.uint16)


def _expand(starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64],
            dtype: npt.DTypeLike) -> npt.NDArray[np.integer[Any]]:
    """The positions start, start+1, ... of each run, runs one after the other."""
    before = np.cumsum(lengths) - lengths
    positions: npt.NDArray[np.integer[Any]] = np.repeat((starts - before).astype(dtype),
                                                        lengths)
    return np.add(positions, np.arange(len(positions), dtype=dtype), out=positions)


class _Runs(NamedTuple):
    """Runs of index positions to read, with the unique query (and its partner segment's
    value) each belongs to."""

    starts: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]
    partner: npt.NDArray[np.uint16]
    query: npt.NDArray[np.int64]


def distances(hashes: npt.NDArray[np.uint16],
              queries: npt.NDArray[np.uint16]) -> npt.NDArray[np.int64]:
    """Bit distance of row i of `hashes` to row i of `queries` (both [K, 16] uint16)."""
    counts: npt.NDArray[np.int64] = POPCOUNT16[np.bitwise_xor(hashes, queries)].sum(
        axis=1, dtype=np.int64)
    return counts


def hamming(hashes: npt.NDArray[np.uint8], query: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Bit distance of each [N, 32] hash to one [32] query (the plain scan, for checks)."""
    counts: npt.NDArray[np.int64] = _POP8[np.bitwise_xor(hashes, query)].sum(axis=1,
                                                                            dtype=np.int64)
    return counts


class HashIndex:
    """The bank's [N, 32] hashes, indexed for `search`."""

    def __init__(self, hashes: npt.NDArray[np.uint8]) -> None:
        if hashes.ndim != 2 or hashes.shape[1] != HASH_BYTES:
            raise ValueError(f"hashes must be [N, {HASH_BYTES}] uint8, not {hashes.shape}")
        self.hashes = np.ascontiguousarray(hashes, np.uint8)
        count = len(self.hashes)
        self._words: npt.NDArray[np.uint16] = self.hashes.view(np.uint16)  # [N, 16]
        # Positions index the 16 segments' runs laid end to end (segment s at s * N).
        self._position_type: npt.DTypeLike = (np.int32 if SEGMENTS * count < 2**31
                                              else np.int64)
        self._rows = np.empty(SEGMENTS * count, np.int32 if count < 2**31 else np.int64)
        self._partners = np.empty(SEGMENTS * count, np.uint16)
        self._offsets: npt.NDArray[np.integer[Any]] = np.empty((SEGMENTS, VALUES + 1),
                                                               self._position_type)
        for s in range(SEGMENTS):
            values = np.ascontiguousarray(self._words[:, s])
            order = np.argsort(values, kind="stable")  # radix sort: O(N) for 16 bits
            part = slice(s * count, (s + 1) * count)
            self._rows[part] = order
            self._partners[part] = np.ascontiguousarray(self._words[:, s ^ 1])[order]
            self._offsets[s, 0] = s * count
            np.cumsum(np.bincount(values, minlength=VALUES), out=self._offsets[s, 1:])
            np.add(self._offsets[s, 1:], s * count, out=self._offsets[s, 1:])

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def nbytes(self) -> int:
        """Memory the index holds beyond the hashes themselves."""
        return self._rows.nbytes + self._partners.nbytes + self._offsets.nbytes

    def search(self, queries: npt.NDArray[np.uint8], max_distance: int) -> Found:
        """Every (query, row) pair within `max_distance` bits: three aligned arrays (query
        number, bank row, distance), ordered by query then row."""
        if max_distance < 0:
            raise ValueError(f"max_distance {max_distance} is negative")
        if queries.ndim != 2 or queries.shape[1] != HASH_BYTES:
            raise ValueError(f"queries must be [Q, {HASH_BYTES}] uint8, not {queries.shape}")
        if not len(queries) or not len(self):
            return _empty()
        # Identical queries (a static scene, a symmetric frame's mirror) are answered once.
        unique, inverse = np.unique(np.ascontiguousarray(queries, np.uint8), axis=0,
                                    return_inverse=True)
        words = unique.view(np.uint16)
        if max_distance > INDEXED_UP_TO:
            found = self._scan(words, max_distance)
        else:
            found = self._indexed(words, max_distance)
        return _per_query(found, inverse.reshape(-1), len(unique))

    def _indexed(self, words: npt.NDArray[np.uint16], max_distance: int) -> Found:
        pair_radius = max_distance // PAIRS
        hit_queries: list[npt.NDArray[np.int64]] = []
        hit_rows: list[npt.NDArray[np.int64]] = []
        for bits in range(pair_radius // 2 + 1):  # runs whose segment differs by `bits`
            masks = _flip_masks(bits)
            # [U, 16, M]: the segment values looked up, per unique query and segment.
            looked_up = words[:, :, None] ^ masks[None, None, :]
            segment = np.arange(SEGMENTS)[None, :, None]
            starts = self._offsets[segment, looked_up].astype(np.int64)
            ends = self._offsets[segment, looked_up.astype(np.int64) + 1].astype(np.int64)
            partner = np.broadcast_to(words[:, np.arange(SEGMENTS) ^ 1][:, :, None],
                                      looked_up.shape)
            query = np.broadcast_to(np.arange(len(words))[:, None, None], looked_up.shape)
            runs = (ends > starts).reshape(-1)
            for found_queries, found_rows in self._filter(
                    _Runs(starts.reshape(-1)[runs], (ends - starts).reshape(-1)[runs],
                          partner.reshape(-1)[runs], query.reshape(-1)[runs]),
                    pair_radius - bits):
                hit_queries.append(found_queries)
                hit_rows.append(found_rows)
        if not hit_queries:
            return _empty()
        # One pair per (query, row), ordered by query then row; then the full distance.
        keys = np.unique(np.concatenate(hit_queries) * len(self) + np.concatenate(hit_rows))
        query_no, rows = np.divmod(keys, len(self))
        distance = distances(self._words[rows], words[query_no])
        keep = distance <= max_distance
        return query_no[keep], rows[keep], distance[keep]

    def _filter(self, runs: _Runs, partner_radius: int) -> Iterator[
            tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """(unique query, row) of the runs' rows whose partner segment is within
        `partner_radius` bits of the query's: the runs are expanded about EXPAND_CHUNK rows at
        a time."""
        ends = np.cumsum(runs.lengths)
        first = 0
        while first < len(ends):
            # Runs first..last-1: at least one, at most about EXPAND_CHUNK rows.
            base = int(ends[first - 1]) if first else 0
            last = max(first + 1, int(np.searchsorted(ends, base + EXPAND_CHUNK, "right")))
            chunk = slice(first, last)
            lengths = runs.lengths[chunk]
            positions = _expand(runs.starts[chunk], lengths, self._position_type)
            close = POPCOUNT16[self._partners[positions]
                               ^ np.repeat(runs.partner[chunk], lengths)] <= partner_radius
            kept = np.flatnonzero(close)
            run = np.searchsorted(ends[chunk] - base, kept, "right")
            yield (runs.query[chunk][run].astype(np.int64),
                   self._rows[positions[kept]].astype(np.int64))
            first = last

    def _scan(self, words: npt.NDArray[np.uint16], max_distance: int) -> Found:
        """Every row compared with every query, a chunk of rows at a time."""
        hit_queries, hit_rows, hit_distances = [], [], []
        for first in range(0, len(self), SCAN_CHUNK):
            chunk = self._words[first:first + SCAN_CHUNK]
            distance = POPCOUNT16[chunk[None, :, :] ^ words[:, None, :]].sum(
                axis=2, dtype=np.int64)  # [U, chunk]
            query_no, rows = np.nonzero(distance <= max_distance)
            hit_queries.append(query_no)
            hit_rows.append(rows + first)
            hit_distances.append(distance[query_no, rows])
        query_no, rows = np.concatenate(hit_queries), np.concatenate(hit_rows)
        order = np.lexsort((rows, query_no))
        return (query_no[order].astype(np.int64), rows[order].astype(np.int64),
                np.concatenate(hit_distances)[order])


def _per_query(found: Found, inverse: npt.NDArray[np.int64], unique_count: int) -> Found:
    """The unique queries' answers (ordered by unique query, then row) given to each query
    in the caller's order."""
    query_no, rows, distance = found
    counts = np.bincount(query_no, minlength=unique_count)
    starts = np.cumsum(counts) - counts
    lengths = counts[inverse]
    picked = _expand(starts[inverse], lengths, np.int64)
    asked = np.repeat(np.arange(len(inverse), dtype=np.int64), lengths)
    return asked, rows[picked], distance[picked]
