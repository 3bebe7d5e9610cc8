"""Known-content index: one upload's 32-48 frame hashes against 10,000 video entries of 600
frames (6 million hashes), the batched index (consumer/signals/known_content/index.py) against
the per-query segment index it replaced, same banks, same queries, same run.

    .venv/bin/python bench/known_content_index.py [--entries 10000] [--frames 600]
                                                  [--repeat 5] [--results FILE]

Two banks: random hashes, and "video-like" ones (each entry a run of frames, each frame a few
random bit flips from the previous one, a scene cut every ~100 frames), as real PDQ hashes of
video frames are. Two uploads per bank: one that re-uploads an entry (16 box hashes 4-24 bits
from 16 of its frames; mirror and full-frame hashes that match nothing) and one that matches
nothing. Both indexes must return the same pairs (checked). Single-threaded (numpy here uses
one core). Prints Markdown tables and writes them to --results.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import best_s, emit
from consumer.signals.known_content.index import HashIndex

Hashes = npt.NDArray[np.uint8]
FRAMES_PER_UPLOAD = 16
SCENE_FRAMES = 100
FLIPS_PER_FRAME = 2
_POP8 = np.array([bin(i).count("1") for i in range(256)], np.uint8)


class OldIndex:
    """The index before this one (lists.py's `HashIndex`, copied so this bench outlives it):
    per query, per segment, a binary search for each value within the radius, then the full
    distance of the candidates."""

    def __init__(self, hashes: Hashes) -> None:
        self.hashes = hashes
        segments = hashes.view(">u2").astype(np.uint16)
        self._order = [np.argsort(segments[:, s], kind="stable").astype(np.int32)
                       for s in range(16)]
        self._sorted = [segments[order, s] for s, order in enumerate(self._order)]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._order) + sum(a.nbytes for a in self._sorted)

    def within(self, query: Hashes, max_distance: int) -> tuple[npt.NDArray[np.int64], ...]:
        radius = max_distance // 16
        masks = np.array([sum(1 << b for b in bits) for r in range(radius + 1)
                          for bits in combinations(range(16), r)], np.uint16)
        words = query.view(">u2").astype(np.uint16)
        parts = []
        for s in range(16):
            variants = np.bitwise_xor(words[s], masks)
            left = np.searchsorted(self._sorted[s], variants, side="left")
            right = np.searchsorted(self._sorted[s], variants, side="right")
            parts += [self._order[s][a:b] for a, b in zip(left, right, strict=True) if b > a]
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        candidates = np.unique(np.concatenate(parts))
        distances = _POP8[self.hashes[candidates] ^ query].sum(axis=1, dtype=np.int64)
        keep = distances <= max_distance
        return candidates[keep].astype(np.int64), distances[keep]

    def search(self, queries: Hashes, max_distance: int) -> tuple[npt.NDArray[np.int64], ...]:
        """The same contract as the new index, one query at a time (as matching called it)."""
        parts_q, parts_r, parts_d = [], [], []
        for q, query in enumerate(queries):
            rows, distances = self.within(np.ascontiguousarray(query), max_distance)
            order = np.argsort(rows, kind="stable")
            parts_q.append(np.full(len(rows), q, np.int64))
            parts_r.append(rows[order])
            parts_d.append(distances[order])
        return np.concatenate(parts_q), np.concatenate(parts_r), np.concatenate(parts_d)


def _flip_bits(rng: np.random.Generator, rows: Hashes, count: int) -> None:
    """Flip `count` random bits (with replacement: a few may cancel) of every row, in place."""
    every = np.arange(len(rows))
    for _ in range(count):
        bit = rng.integers(0, 256, len(rows))
        rows[every, bit >> 3] ^= (1 << (bit & 7)).astype(np.uint8)


def random_bank(rng: np.random.Generator, entries: int, frames: int) -> Hashes:
    return rng.integers(0, 256, (entries * frames, 32), dtype=np.uint8)


def video_bank(rng: np.random.Generator, entries: int, frames: int) -> Hashes:
    """Each entry a run of `frames` hashes: a scene starts at a random hash (at the entry's
    start, and with chance 1/SCENE_FRAMES at each frame), each next frame a few bits off."""
    count = entries * frames
    steps = np.zeros((count, 32), np.uint8)
    _flip_bits(rng, steps, FLIPS_PER_FRAME)
    walked = np.bitwise_xor.accumulate(steps, axis=0)  # steps 0..i
    del steps
    cut = rng.random(count) < 1 / SCENE_FRAMES
    cut[::frames] = True
    first = np.flatnonzero(cut)
    scene = np.cumsum(cut) - 1
    # Frame i of a scene: the scene's start hash, walked by the steps after the scene's first.
    start = rng.integers(0, 256, (len(first), 32), dtype=np.uint8) ^ walked[first]
    walked ^= start[scene]
    return walked


def uploads(rng: np.random.Generator, bank: Hashes, frames: int) -> dict[str, Hashes]:
    """48 query hashes per upload: 16 box hashes, 16 mirror, 16 full-frame."""
    entry = int(rng.integers(0, len(bank) // frames))
    picked = entry * frames + np.linspace(0, frames - 1, FRAMES_PER_UPLOAD).astype(np.int64)
    boxes = bank[picked].copy()
    for row in boxes:  # a re-encode: 4-24 bits off the banked frame
        _flip_bits(rng, row[None, :], int(rng.integers(4, 25)))
    others = rng.integers(0, 256, (2 * FRAMES_PER_UPLOAD, 32), dtype=np.uint8)
    return {"re-upload": np.concatenate([boxes, others]),
            "no match": rng.integers(0, 256, (3 * FRAMES_PER_UPLOAD, 32), dtype=np.uint8)}


def _measured(build: Callable[[], HashIndex | OldIndex]) -> tuple[HashIndex | OldIndex, float,
                                                                   int]:
    """The index, its build time and the build's peak memory beyond the bank (tracemalloc
    sees numpy's allocations)."""
    tracemalloc.start()
    started = time.perf_counter()
    index = build()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return index, seconds, peak


def _same(a: tuple[npt.NDArray[np.int64], ...], b: tuple[npt.NDArray[np.int64], ...]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def bank_tables(kind: str, bank: Hashes, frames: int, repeat: int,
                rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """(timing rows, build rows) for one bank."""
    mb = 1 / 2**20
    new, new_build, new_peak = _measured(lambda: HashIndex(bank))
    old, old_build, old_peak = _measured(lambda: OldIndex(bank))
    assert isinstance(new, HashIndex) and isinstance(old, OldIndex)
    build_rows = [
        f"| {kind} | new (batched) | {new_build:.2f} | {bank.nbytes * mb:.0f} "
        f"| {new.nbytes * mb:.0f} | {new_peak * mb:.0f} |",
        f"| {kind} | old (per query) | {old_build:.2f} | {bank.nbytes * mb:.0f} "
        f"| {old.nbytes * mb:.0f} | {old_peak * mb:.0f} |"]
    rows = []
    for upload, queries in uploads(rng, bank, frames).items():
        for count, distance in ((32, 31), (48, 31), (48, 47)):
            asked = queries[:count]
            found = new.search(asked, distance)
            assert _same(found, old.search(asked, distance)), (kind, upload, count, distance)
            t_new = best_s(lambda asked=asked, d=distance: new.search(asked, d), repeat)
            slow_old = distance > 31
            t_old = best_s(lambda asked=asked, d=distance: old.search(asked, d),
                           1 if slow_old else max(1, repeat // 2))
            rows.append(f"| {kind} | {upload} | {count} | {distance} | {t_new * 1000:.1f} "
                        f"| {t_old * 1000:.0f} | **{t_old / t_new:.0f}x** | {len(found[0])} |")
    return rows, build_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    timing = ["| bank | upload | queries | distance | new ms | old ms | speed-up | pairs |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    builds = ["| bank | index | build s | hashes MiB | index MiB (beyond the hashes) "
              "| build peak MiB |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for kind, make in (("random", random_bank), ("video-like", video_bank)):
        bank = make(rng, args.entries, args.frames)
        rows, build_rows = bank_tables(kind, bank, args.frames, args.repeat, rng)
        timing += rows
        builds += build_rows
        del bank
    lines = [f"Machine: {platform.machine()}, Python {platform.python_version()}, "
             f"numpy {np.__version__}; one thread; {args.entries:,} entries x {args.frames} "
             f"frames = {args.entries * args.frames:,} hashes; new: best of {args.repeat}, "
             f"old: best of {max(1, args.repeat // 2)} (1 at distance 47).", "",
             *timing, "", *builds]
    emit(lines, args.results)


if __name__ == "__main__":
    main()
