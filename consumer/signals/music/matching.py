"""Where catalogue music plays inside an upload: segments found by fingerprint alignment.

Two stages, as AcoustID's matcher does it. Candidates: every item of the upload looks up the
catalogue items that share its 16-bit key, and each hit votes for an alignment (track, offset);
music that really plays gives one alignment (and its neighbours) many votes, chance hits
scatter. Verification: for the best-voted alignments, the per-item bit error between the two
fingerprints is smoothed to find where it stays low, and each such stretch is trimmed to the
span with the most agreement: a segment. Segments compete for the upload's time: where two
overlap, the one with more evidence (agreeing bits above chance, times length) is kept.

The key is the high bit of each of Chromaprint's 16 classifiers (the odd bits): it only flips
when a filter response crosses the middle of its four quantisation levels, so under speech or
noise it survives far better than the low bit (measured: 0.10 vs 0.19 error at 0 dB noise).
Bounded: the upload is voted on in chunks of at most `_CHUNK_ITEMS` items and `_CHUNK_HITS`
catalogue hits (overlapping by `_OVERLAP_ITEMS`, so music across a chunk's edge still gathers
votes), each chunk naming its own best alignments; memory stays flat whatever the length of
the upload and the size of the catalogue, and time grows with the upload's length only (its
cap is signals.music.max_soundtrack_s). Stretches of the upload that carry no information (noise,
silence, tones: consumer.signals.music.information) neither vote nor count as agreeing.
Pure logic: no I/O; all per-item work is numpy; an index is never changed after it is built,
so `match` may run on several threads at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from consumer.media.chromaprint import ITEM_S
from consumer.signals.music.catalogue import Track
from consumer.signals.music.information import informative

# Item i of a raw fingerprint describes audio from i*ITEM_S over DELAY_S (~2.6 s); a segment of
# items [a, b) is the audio from a*ITEM_S + START_S to b*ITEM_S + END_S. Both are near the
# middle of an item's window (DELAY_S / 2), measured with bench/audio_match.py.
START_S = 1.05
END_S = 0.75

DEFAULT_MIN_CONFIDENCE = 0.70
DEFAULT_MIN_DURATION_S = 10.0

_KEY_SPACE = 1 << 16
# A key held by this many times more catalogue items than the average one (silence, a test
# tone: real music's commonest keys reach ~22x) says nothing and would flood the vote: such
# keys are not indexed.
_COMMON_KEY = 64
# An alignment's score counts the votes this many items either side of it (at most 1: the
# pre-count in _candidates assumes the 4 * _NEAR_ITEMS + 1 wide window spans two bins of 4).
_NEAR_ITEMS = 1
_MIN_VOTES = 3  # score before an alignment is verified
_MAX_CANDIDATES = 64  # alignments verified per chunk of the upload, best-voted first
_CHUNK_ITEMS = 4096  # ~8.5 min of upload voted on at once
_CHUNK_HITS = 1 << 20  # catalogue hits voted on at once (~40 MB of working arrays)
_OVERLAP_ITEMS = 128  # ~16 s shared by neighbouring chunks
_SMOOTH_ITEMS = 17  # ~2 s box filter over the per-item bit error
_ITEM_THRESHOLD = 0.36  # smoothed bit error under which an item counts as matching
_MAX_GAP_ITEMS = 24  # ~3 s: a louder stretch of speech does not split a segment
_EDGE_THRESHOLD = 0.35  # error share that counts for a segment at its edges (see _strongest)
_POPCOUNT16 = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)


@dataclass(frozen=True)
class MusicMatch:
    """A catalogue track heard in the upload from `start_s` to `end_s` (upload seconds)."""

    track_id: str
    start_s: float
    end_s: float
    reference_offset_s: float  # where in the reference track the segment starts
    confidence: float  # share of agreeing bits over the segment: 0.5 is chance, 1.0 identical


def keys(fingerprint: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The 16 odd bits of each item packed into a 16-bit key."""
    x = (fingerprint >> np.uint32(1)) & np.uint32(0x55555555)
    x = (x | (x >> np.uint32(1))) & np.uint32(0x33333333)
    x = (x | (x >> np.uint32(2))) & np.uint32(0x0F0F0F0F)
    x = (x | (x >> np.uint32(4))) & np.uint32(0x00FF00FF)
    return (x | (x >> np.uint32(8))) & np.uint32(0x0000FFFF)


def bit_errors(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
    """Differing bits (0-32) item by item."""
    x = a ^ b
    counts: npt.NDArray[np.uint8] = _POPCOUNT16[x & np.uint32(0xFFFF)] + _POPCOUNT16[x >> 16]
    return counts


def _run_starts(values: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """True where a value differs from the one before: a held note votes once, not per item."""
    mask = np.ones(values.size, dtype=bool)
    mask[1:] = values[1:] != values[:-1]
    return mask


class CatalogueIndex:
    """Reference fingerprints indexed by key, for finding their segments inside uploads."""

    def __init__(self, tracks: Sequence[Track]) -> None:
        self.track_ids = [track.track_id for track in tracks]
        lengths = np.array([track.fingerprint.size for track in tracks], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._items = np.concatenate([track.fingerprint for track in tracks]).astype(
            np.uint32) if tracks else np.zeros(0, dtype=np.uint32)
        self._max_length = int(lengths.max()) if tracks else 0
        item_keys = keys(self._items)
        owner = np.repeat(np.arange(len(tracks), dtype=np.int32), lengths)
        keep = _run_starts(item_keys)
        keep[self._starts[:-1][lengths > 0]] = True  # a track's first item starts a run
        counts = np.bincount(item_keys[keep], minlength=_KEY_SPACE)
        keep &= counts[item_keys] <= max(_COMMON_KEY, _COMMON_KEY * counts.sum() / _KEY_SPACE)
        kept = np.flatnonzero(keep)
        order = kept[np.argsort(item_keys[kept], kind="stable")]
        self._entry_track = owner[order]
        self._entry_pos = (order - self._starts[owner[order]]).astype(np.int32)
        bucket_sizes = np.bincount(item_keys[order], minlength=_KEY_SPACE)
        self._bucket = np.concatenate([[0], np.cumsum(bucket_sizes)]).astype(np.int64)
        for array in (self._items, self._starts, self._entry_track, self._entry_pos,
                      self._bucket):
            array.flags.writeable = False  # shared by every thread that matches: never changed

    def __len__(self) -> int:
        return len(self.track_ids)

    @property
    def items(self) -> int:
        """Catalogue items indexed (after dropping repeats and over-common keys)."""
        return int(self._entry_track.size)

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays."""
        return sum(a.nbytes for a in (self._items, self._starts, self._entry_track,
                                      self._entry_pos, self._bucket))

    def match(self, fingerprint: npt.NDArray[np.uint32], *,
              min_confidence: float = DEFAULT_MIN_CONFIDENCE,
              min_duration_s: float = DEFAULT_MIN_DURATION_S) -> list[MusicMatch]:
        """Catalogue segments heard in the upload, in upload order, never overlapping."""
        query = np.asarray(fingerprint, dtype=np.uint32)
        if query.size == 0 or not self.track_ids:
            return []
        min_items = max(1, round(min_duration_s / ITEM_S))
        usable = informative(query)
        alignments: dict[tuple[int, int], None] = {}
        for lo, hi in self._chunks(query, usable):
            for track, offset in self._candidates(query[lo:hi], usable[lo:hi]):
                alignments.setdefault((track, offset - lo))
        found: list[tuple[float, MusicMatch]] = []
        for track, offset in alignments:
            found.extend(self._segments(query, usable, track, offset, min_items=min_items,
                                        min_confidence=min_confidence))
        return _without_overlaps(found)

    def _voters(self, query: npt.NDArray[np.uint32],
                usable: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp],
                                                        npt.NDArray[np.uint32]]:
        """The upload items that vote (start a run of equal keys, in an informative
        stretch) and their keys."""
        query_keys = keys(query)
        positions = np.flatnonzero(_run_starts(query_keys) & usable)
        return positions, query_keys[positions]

    def _chunks(self, query: npt.NDArray[np.uint32],
                usable: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
        """[lo, hi) stretches of the upload, each under _CHUNK_ITEMS items and (unless one
        item alone exceeds it) _CHUNK_HITS hits, neighbours overlapping by _OVERLAP_ITEMS."""
        positions, voter_keys = self._voters(query, usable)
        hits = np.zeros(query.size + 1, dtype=np.int64)
        hits[positions + 1] = self._bucket[voter_keys + 1] - self._bucket[voter_keys]
        before = np.cumsum(hits)  # before[i]: hits of the items ahead of item i
        out: list[tuple[int, int]] = []
        start = 0
        while start < query.size:
            lo = max(0, start - _OVERLAP_ITEMS)
            end = int(np.searchsorted(before, before[lo] + _CHUNK_HITS, side="right")) - 1
            end = max(start + 1, min(query.size, lo + _CHUNK_ITEMS, end))
            out.append((lo, end))
            start = end
        return out

    def _candidates(self, query: npt.NDArray[np.uint32],
                    usable: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
        """Best-voted alignments (track, reference item - upload item), best first."""
        track, ref_pos, query_pos = self._hits(query, usable)
        if track.size == 0:
            return []
        span = self._max_length + query.size + 1
        codes = track.astype(np.int64) * span + (ref_pos.astype(np.int64) - query_pos) \
            + query.size
        # Count votes per 4 neighbouring alignments in a hashed table first, and keep only
        # the hits whose bins (covering the score's window around every cell the hit counts
        # for) may reach _MIN_VOTES: the exact count then sorts a few hits, not all.
        bits = max(10, (2 * codes.size).bit_length())
        table = np.bincount(_slot(codes >> 2, bits), minlength=1 << bits)
        low, high = (codes - 2 * _NEAR_ITEMS) >> 2, (codes + 2 * _NEAR_ITEMS) >> 2
        wide = table[_slot(low, bits)] + np.where(high != low, table[_slot(high, bits)], 0)
        codes = codes[wide >= _MIN_VOTES]
        if codes.size == 0:
            return []
        cells, votes = np.unique(codes, return_counts=True)
        score = votes.copy()
        for shift in range(1, _NEAR_ITEMS + 1):
            score += _at_shift(cells, votes, shift) + _at_shift(cells, votes, -shift)
        # One candidate per peak: its neighbours share its votes and are tried in _segments.
        peak = score >= _MIN_VOTES
        for shift in (-2, -1, 1, 2):
            near = _at_shift(cells, score, shift)
            peak &= score > near if shift < 0 else score >= near
        good = np.flatnonzero(peak)
        best = good[np.argsort(-score[good], kind="stable")][:_MAX_CANDIDATES]
        return [(int(cells[i] // span), int(cells[i] % span) - query.size) for i in best]

    def _hits(self, query: npt.NDArray[np.uint32], usable: npt.NDArray[np.bool_]) -> tuple[
            npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """(track, reference item, upload item) for every catalogue entry sharing a key with
        the upload: one bucket lookup per voting upload item (see _voters)."""
        positions, voter_keys = self._voters(query, usable)
        lo = self._bucket[voter_keys]
        sizes = self._bucket[voter_keys + 1] - lo
        first = np.cumsum(sizes) - sizes
        entries = np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(lo - first, sizes)
        return (self._entry_track[entries], self._entry_pos[entries],
                np.repeat(positions.astype(np.int64), sizes))

    def _errors(self, query: npt.NDArray[np.uint32], usable: npt.NDArray[np.bool_],
                track: int, offset: int) -> tuple[int, npt.NDArray[np.float64]]:
        """First upload item of the overlap, and the share of differing bits item by item
        (0.5, chance, where the upload carries no information)."""
        begin, end = int(self._starts[track]), int(self._starts[track + 1])
        lo = max(0, -offset)
        hi = max(lo, min(query.size, end - begin - offset))
        errors = bit_errors(query[lo:hi], self._items[begin + lo + offset:begin + hi + offset])
        share = errors.astype(np.float64) / 32.0
        share[~usable[lo:hi]] = 0.5
        return lo, share

    def _segments(self, query: npt.NDArray[np.uint32], usable: npt.NDArray[np.bool_],
                  track: int, offset: int, *, min_items: int,
                  min_confidence: float) -> list[tuple[float, MusicMatch]]:
        """Stretches where the upload agrees with `track` shifted by `offset` items (or by
        a neighbouring offset, whichever agrees best: the item grids seldom line up)."""
        tried = [(near, *self._errors(query, usable, track, near))
                 for near in (offset, offset - 1, offset + 1)]
        offset, lo, share = max(tried, key=lambda found: _agreement(found[2]))
        if share.size < min_items:
            return []
        out = []
        margin = _SMOOTH_ITEMS // 2
        for coarse_start, coarse_end in _runs(_box(share, _SMOOTH_ITEMS) < _ITEM_THRESHOLD,
                                              _MAX_GAP_ITEMS):
            start, end = _strongest(share, max(0, coarse_start - margin),
                                    min(share.size, coarse_end + margin))
            if end - start < min_items:
                continue
            confidence = 1.0 - float(share[start:end].mean())
            if confidence < min_confidence:
                continue
            start_s = (lo + start) * ITEM_S + START_S
            match = MusicMatch(
                track_id=self.track_ids[track],
                start_s=round(start_s, 3),
                end_s=round((lo + end) * ITEM_S + END_S, 3),
                reference_offset_s=round(start_s + offset * ITEM_S, 3),
                confidence=round(confidence, 4))
            out.append(((confidence - 0.5) * (end - start), match))
        return out


def _agreement(share: npt.NDArray[np.float64]) -> float:
    """How much of an alignment agrees beyond the edge threshold (after smoothing)."""
    if share.size == 0:
        return 0.0
    return float(np.maximum(0.0, _EDGE_THRESHOLD - _box(share, _SMOOTH_ITEMS)).sum())


def _strongest(share: npt.NDArray[np.float64], lo: int, hi: int) -> tuple[int, int]:
    """The stretch of [lo, hi) with the most agreement beyond _EDGE_THRESHOLD (the maximum
    sum of threshold - error): its edges are where the music starts and stops, and a stray
    agreeing patch nearby is only taken in if what lies between agrees as well."""
    gain = np.concatenate([[0.0], np.cumsum(_EDGE_THRESHOLD - share[lo:hi])])
    lowest = np.minimum.accumulate(gain)
    end = int(np.argmax(gain - lowest))
    start = int(np.argmin(gain[:end + 1]))
    return lo + start, lo + end


def _at_shift(cells: npt.NDArray[np.int64], values: npt.NDArray[np.int64],
              shift: int) -> npt.NDArray[np.int64]:
    """values[cell + shift] for each cell (0 where absent); `cells` sorted and unique, so the
    cell `shift` away can only be within `shift` places of it."""
    out = np.zeros_like(values)
    for j in range(1, abs(shift) + 1):
        if shift > 0:
            same = cells[j:] == cells[:-j] + shift
            out[:-j][same] = values[j:][same]
        else:
            same = cells[:-j] == cells[j:] + shift
            out[j:][same] = values[:-j][same]
    return out


def _slot(bins: npt.NDArray[np.int64], bits: int) -> npt.NDArray[np.intp]:
    """Hashed slots of 2**bits for alignment bins; runs of 16 neighbouring bins stay together
    (Fibonacci hashing of the run), so looking up a bin's neighbour seldom misses the cache."""
    mixed = (bins >> 4).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    block = (mixed >> np.uint64(64 - (bits - 4))).astype(np.intp)
    slots: npt.NDArray[np.intp] = (block << 4) | (bins & 15).astype(np.intp)
    return slots


def _box(values: npt.NDArray[np.float64], width: int) -> npt.NDArray[np.float64]:
    """Centred moving average; the window shrinks at the edges instead of padding."""
    half = width // 2
    sums = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(values.size)
    lo = np.maximum(0, index - half)
    hi = np.minimum(values.size, index + half + 1)
    out: npt.NDArray[np.float64] = (sums[hi] - sums[lo]) / (hi - lo)
    return out


def _runs(mask: npt.NDArray[np.bool_], max_gap: int) -> list[tuple[int, int]]:
    """[start, end) of the True stretches, joined across gaps of at most `max_gap` items."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs: list[tuple[int, int]] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if runs and start - runs[-1][1] <= max_gap:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def _without_overlaps(found: list[tuple[float, MusicMatch]]) -> list[MusicMatch]:
    """Strongest evidence first; a segment overlapping one already kept is dropped."""
    kept: list[MusicMatch] = []
    for _, match in sorted(found, key=lambda pair: -pair[0]):
        if all(match.end_s <= other.start_s or match.start_s >= other.end_s for other in kept):
            kept.append(match)
    return sorted(kept, key=lambda match: match.start_s)
