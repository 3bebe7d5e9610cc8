"""Known-content signal: PDQ hashing cost per frame, and matching one video's 16 frame hashes
against lists of 10k, 100k and 1M hashes, the multi-index against a numpy linear scan, same run.

    .venv/bin/python bench/known_content.py [--sizes 10000 100000 1000000] [--repeat 5]
                                            [--results FILE]

Lists are random 256-bit hashes, each query within 0-40 bits of a listed one (so both find the
same matches at distance 31). Prints Markdown tables and writes them to --results.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import best_s, emit
from consumer.media.frame_hash import PDQ_SPEC, pdq_hash
from consumer.media.resize import resize_frame
from consumer.signals.known_content.index import HashIndex, hamming

FRAMES = 16
MAX_DISTANCE = 31


def _resize(image: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    out: npt.NDArray[np.uint8] = frame.reformat(width, height, "rgb24",
                                                 interpolation="AREA").to_ndarray()
    return out


def hashing_table(repeat: int) -> list[str]:
    """From a decoded 1080p frame (yuv420p, as the extractor has it) to its PDQ hash."""
    photo = _resize(data.astronaut(), 1920, 1080)
    frame = av.VideoFrame.from_ndarray(photo, format="rgb24").reformat(format="yuv420p")
    square = resize_frame(frame, PDQ_SPEC, 0)
    ours = best_s(lambda: pdq_hash(resize_frame(frame, PDQ_SPEC, 0)), repeat * 10)
    hash_only = best_s(lambda: pdq_hash(square), repeat * 10)
    full = best_s(lambda: pdq_hash(frame.to_ndarray(format="rgb24")), repeat * 2)
    return [
        "| PDQ per frame (decoded 1080p frame) | ms |",
        "| --- | ---: |",
        f"| ours: {PDQ_SPEC.size}x{PDQ_SPEC.size} swscale resize + hash | {ours * 1000:.2f} |",
        f"| of which the hash | {hash_only * 1000:.2f} |",
        f"| peer: full 1920x1080 frame to RGB + hash | {full * 1000:.2f} |",
        f"| ratio peer / ours | **{full / ours:.1f}x** |",
    ]


def matching_table(sizes: list[int], repeat: int) -> list[str]:
    rng = np.random.default_rng(7)
    rows = ["| list size | index build s | multi-index ms/video | linear scan ms/video "
            "| speed-up | matches (both) |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in sizes:
        hashes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
        near = []
        for i in range(FRAMES):
            bits = np.unpackbits(hashes[(i * 7919) % size])
            bits[rng.choice(256, int(rng.integers(0, 41)), replace=False)] ^= 1
            near.append(np.packbits(bits))
        queries = np.stack(near)
        started = time.perf_counter()
        index = HashIndex(hashes)
        build = time.perf_counter() - started

        def indexed(index: HashIndex = index, queries: npt.NDArray[np.uint8] = queries) -> int:
            return len(index.search(queries, MAX_DISTANCE)[0])

        def linear(hashes: npt.NDArray[np.uint8] = hashes,
                   queries: npt.NDArray[np.uint8] = queries) -> int:
            return sum(int(np.count_nonzero(hamming(hashes, q) <= MAX_DISTANCE))
                       for q in queries)

        found, expected = indexed(), linear()
        assert found == expected, (size, found, expected)
        t_index = best_s(indexed, repeat)
        t_linear = best_s(linear, max(1, repeat // 2))
        rows.append(f"| {size:,} | {build:.2f} | {t_index * 1000:.1f} | {t_linear * 1000:.0f} "
                    f"| **{t_linear / t_index:.0f}x** | {found} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    lines = [f"Machine: {platform.machine()}, Python {platform.python_version()}, "
             f"numpy {np.__version__}; best of {args.repeat} runs.", "",
             *hashing_table(args.repeat), "",
             f"{FRAMES} frame hashes per video, distance <= {MAX_DISTANCE}:", "",
             *matching_table(args.sizes, args.repeat)]
    emit(lines, args.results)


if __name__ == "__main__":
    main()
