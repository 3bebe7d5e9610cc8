"""Known content end to end: one upload matched against a bank of 10,000 video entries
(600 frame hashes each: 6 million), through `match_banks` (index search, per-entry shares,
the allow-bank pass), against the index search alone measured in the same run.

    .venv/bin/python bench/known_content_matching.py [--entries 10000] [--frames 600]
                                                     [--repeat 5] [--results FILE]

The bank is bench/known_content_index.py's video-like one (runs of frames a few bits apart,
scene cuts), as vPDQ entries one frame a second; an upload is 16 frames, each with a box,
mirror and whole-frame hash (48 queries), a re-upload of one entry or unrelated.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.known_content_index import FRAMES_PER_UPLOAD, uploads, video_bank
from bench.report import best_s, emit
from consumer.media.frame_hash import FrameHash
from consumer.signals.known_content.bank import Bank, Entries, IndexedBank
from consumer.signals.known_content.index import HashIndex
from consumer.signals.known_content.matching import frame_queries, match_banks
from consumer.signals.known_content.parse import Labels
from consumer.signals.known_content.settings import HashListRule


def _labels(values: list[str]) -> Labels:
    blob = "".join(values).encode()
    offsets = np.r_[0, np.cumsum([len(v.encode()) for v in values])].astype(np.int64)
    return Labels(np.frombuffer(blob, np.uint8).copy(), offsets)


def video_entries(hashes: np.ndarray, frames: int) -> Bank:
    """The hashes as entries of `frames` hashes each, one a second, quality 100."""
    entries = len(hashes) // frames
    no_labels = Labels(np.zeros(0, np.uint8), np.zeros(entries + 1, np.int64))
    return Bank("bank", hashes, np.full(len(hashes), 100, np.uint8),
                np.tile(np.arange(frames, dtype=np.float32), entries),
                np.repeat(np.arange(entries, dtype=np.int32), frames),
                Entries(_labels([f"entry-{i}" for i in range(entries)]), no_labels,
                        np.full(entries, frames - 1, np.float32),
                        np.full(entries, frames, np.int32)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    bank = video_entries(video_bank(rng, args.entries, args.frames), args.frames)
    started = time.perf_counter()
    indexed = IndexedBank(HashListRule(name="bank", path="unused", action="block",
                                       match="video"), bank, HashIndex(bank.hashes))
    build = time.perf_counter() - started
    rows = ["| upload | match_banks ms | of which index search ms | entries matched |",
            "| --- | ---: | ---: | ---: |"]
    n = FRAMES_PER_UPLOAD
    pts_s = [float(t) for t in range(n)]
    for upload, queries in uploads(rng, bank.hashes, args.frames).items():
        hexes = [row.tobytes().hex() for row in queries]
        frames = [FrameHash(hexes[i], 100, hexes[n + i], hexes[2 * n + i]) for i in range(n)]
        asked = frame_queries(frames).hashes
        matched = match_banks([indexed], frames, pts_s, float(n))
        t_match = best_s(lambda f=frames: match_banks([indexed], f, pts_s, float(n)),
                         args.repeat)
        t_search = best_s(lambda a=asked: indexed.index.search(a, 31), args.repeat)
        rows.append(f"| {upload} | {t_match * 1000:.1f} | {t_search * 1000:.1f} | "
                    f"{len(matched)} |")
    lines = [f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy "
             f"{np.__version__}; one thread; {args.entries:,} video entries x {args.frames} "
             f"frames = {len(bank):,} hashes; index build {build:.1f} s; best of "
             f"{args.repeat}; 16 frames x 3 hashes per upload, distance 31.", "", *rows]
    emit(lines, args.results)


if __name__ == "__main__":
    main()
