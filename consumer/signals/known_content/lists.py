"""Known content: PDQ hashes of an upload's frames against lists of hashes of known content.
Pure (index, match; parsing is `hash_list_parse`); reading and reloading the lists is
`hash_list_store`.

A list holds one 64-hex-digit PDQ hash per line, or `hash,label` as exported by hash-sharing
tools; blank lines, `#` comments and a `hash,...` header are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt

from consumer.media.frame_hash import FrameHash
from consumer.signals.known_content.parse import HashList, HashListError, Labels, parse_hash_list
from consumer.signals.known_content.settings import HashListRule

__all__ = ["HashIndex", "HashList", "HashListError", "HashMatch", "IndexedList", "Labels",
           "hamming", "match_frames", "parse_hash_list"]

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)
SEGMENTS = 16  # multi-index hashing: 16 segments of 16 bits
MAX_INDEXED_RADIUS = 2  # beyond this, neighbour enumeration costs more than a scan (the
# settings bound max_distance to 47 so matching never scans a whole list on the poll loop)


def hamming(hashes: npt.NDArray[np.uint8], query: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Bit distance of each [N, 32] hash to one [32] query."""
    counts: npt.NDArray[np.int64] = _POPCOUNT[np.bitwise_xor(hashes, query)].sum(
        axis=1, dtype=np.int64)
    return counts


def _flip_masks(radius: int) -> npt.NDArray[np.uint16]:
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << bit for bit in bits) for bits in combinations(range(16), r)]
    return np.array(masks, np.uint16)


class HashIndex:
    """Multi-index hashing: two hashes within distance d agree on at least one of 16
    segments to within d // 16 bits (pigeonhole), so only hashes found by looking up each
    query segment and its neighbours within that radius are compared in full."""

    def __init__(self, hashes: npt.NDArray[np.uint8]) -> None:
        self.hashes = hashes
        segments = hashes.view(">u2").astype(np.uint16)  # [N, 16]
        self._order = [np.argsort(segments[:, s], kind="stable").astype(np.int32)
                       for s in range(SEGMENTS)]
        self._sorted = [segments[order, s] for s, order in enumerate(self._order)]

    def __len__(self) -> int:
        return len(self.hashes)

    def within(self, query: npt.NDArray[np.uint8],
               max_distance: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(indices, distances) of the hashes within `max_distance` of `query`."""
        radius = max_distance // SEGMENTS
        if radius > MAX_INDEXED_RADIUS:
            raise ValueError(f"max_distance {max_distance}: the index answers up to "
                             f"{SEGMENTS * (MAX_INDEXED_RADIUS + 1) - 1} bits")
        masks = _flip_masks(radius)
        words = query.view(">u2").astype(np.uint16)
        found_parts = []
        for s in range(SEGMENTS):
            variants = np.bitwise_xor(words[s], masks)
            left = np.searchsorted(self._sorted[s], variants, side="left")
            right = np.searchsorted(self._sorted[s], variants, side="right")
            found_parts += [self._order[s][a:b] for a, b in zip(left, right, strict=True)
                            if b > a]
        if not found_parts:
            empty = np.empty(0, np.int64)
            return empty, empty
        candidates = np.unique(np.concatenate(found_parts))
        distances = hamming(self.hashes[candidates], query)
        keep = distances <= max_distance
        return candidates[keep].astype(np.int64), distances[keep]


@dataclass(frozen=True)
class HashMatch:
    """The closest frame of an upload to any hash of one list."""

    list_name: str
    action: str
    label: str | None
    distance: int
    at_s: float


@dataclass(frozen=True)
class IndexedList:
    rule: HashListRule
    hashes: HashList
    index: HashIndex


def match_frames(lists: Sequence[IndexedList], frames: Sequence[FrameHash],
                 pts_s: Sequence[float]) -> list[HashMatch]:
    """One match per list that any frame (of at least the list's quality) comes within its
    distance of: the closest frame, the earliest on a tie."""
    matches = []
    for entry in lists:
        best: HashMatch | None = None
        for frame, at_s in zip(frames, pts_s, strict=True):
            if frame.quality < entry.rule.min_quality:
                continue
            query = np.frombuffer(bytes.fromhex(frame.pdq), np.uint8)
            found, distances = entry.index.within(query, entry.rule.max_distance)
            if not len(found):
                continue
            i = int(np.argmin(distances))
            if best is None or int(distances[i]) < best.distance:
                best = HashMatch(entry.rule.name, entry.rule.action,
                                 entry.hashes.labels[int(found[i])], int(distances[i]), at_s)
        if best is not None:
            matches.append(best)
    return matches
