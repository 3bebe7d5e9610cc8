"""Which hashes of a bank lie within a distance of an upload's frame hashes, all queries at
once (pure; the interface matching uses).

Multi-index hashing: two hashes within distance d agree on at least one of 16 segments of 16
bits to within d // 16 bits (pigeonhole), so only the hashes that a query's segment (or a
neighbour within that radius) finds are compared in full.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from consumer.signals.known_content.lists import HashIndex as _SegmentIndex

Found = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]


class HashIndex:
    """The bank's [N, 32] hashes, indexed for `search`."""

    def __init__(self, hashes: npt.NDArray[np.uint8]) -> None:
        self.hashes = hashes
        self._index = _SegmentIndex(hashes)

    def __len__(self) -> int:
        return len(self.hashes)

    def search(self, queries: npt.NDArray[np.uint8], max_distance: int) -> Found:
        """Every (query, row) pair within `max_distance` bits: three aligned arrays (query
        number, bank row, distance), ordered by query then row."""
        parts_q, parts_r, parts_d = [], [], []
        for q, query in enumerate(queries):
            rows, distances = self._index.within(np.ascontiguousarray(query), max_distance)
            order = np.argsort(rows, kind="stable")
            parts_q.append(np.full(len(rows), q, np.int64))
            parts_r.append(rows[order])
            parts_d.append(distances[order])
        if not parts_q:
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        return np.concatenate(parts_q), np.concatenate(parts_r), np.concatenate(parts_d)
