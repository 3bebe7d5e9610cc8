"""Known content against the edits re-uploads go through: per variant, the share of its
analysed frames within 31 bits of its source's frames, before (whole-frame PDQ, no mirror)
and after (content box + mirror + whole frame), on the generated variant set
(devstack/variants.py); plus the hashing cost per frame and whether the box is best hashed
from the worker's 384x384 stretched frame or from an aspect-preserving resize.

    .venv/bin/python bench/known_content_variants.py [--sources 3] [--results FILE]

The source is hashed as `vmc bank add` does (one frame a second, content box); a variant
every 0.5 s, both through the service's own extract_keyframes (sampler, resize, hashing).
Frames under PDQ quality 50 are left out, as matching leaves them out.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import best_s, emit
from consumer.cli.bank import entry_of_keyframes, write_entry
from consumer.media import extract_keyframes
from consumer.media.config import DecodeConfig
from consumer.media.content_box import content_box
from consumer.media.frame_hash import PDQ_SPEC, FrameHash, frame_hash, pdq_hash
from consumer.media.resize import ResizeSpec, fit_size, resize_frame
from consumer.settings import SamplingSettings, SourceSettings, WorkerSettings
from consumer.signals.known_content.bank import IndexedBank
from consumer.signals.known_content.matching import EntryMatch, match_banks
from consumer.signals.known_content.settings import HashListRule
from consumer.signals.known_content.store import load
from devstack.variants import VARIANTS, make_variant_set

MAX_DISTANCE, MIN_QUALITY = 31, 50
LOCAL = SourceSettings(allowed_schemes=["file"])
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)
Hashes = npt.NDArray[np.uint8]


def _rows(hexes: list[str]) -> Hashes:
    if not hexes:
        return np.zeros((0, 32), np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(-1, 32)


def _nearest(queries: Hashes, reference: Hashes) -> npt.NDArray[np.int64]:
    """Each query's distance to its nearest reference hash."""
    if not len(queries) or not len(reference):
        return np.full(len(queries), 256, np.int64)
    xor = np.bitwise_xor(queries[:, None, :], reference[None, :, :])
    distances: npt.NDArray[np.int64] = _POPCOUNT[xor].sum(axis=2, dtype=np.int64).min(axis=1)
    return distances


def _hashed(path: Path, every_s: float) -> list[FrameHash]:
    decode = DecodeConfig(sampling=SamplingSettings(max_keyframes=600, min_interval_s=every_s),
                          workers=WorkerSettings(threads=1), frame_hashes=True)
    return extract_keyframes(str(path), [], decode, LOCAL).hashes


def _shares(variant: list[FrameHash], source: list[FrameHash]) -> tuple[int, float, float,
                                                                         float, float]:
    """(frames, share before, share after, median distance before, after)."""
    kept = [h for h in variant if h.quality >= MIN_QUALITY]
    if not kept:
        return 0, 0.0, 0.0, 256.0, 256.0
    whole = _rows([h.full_pdq or h.pdq for h in source])
    box = _rows([h.pdq for h in source])
    before = _nearest(_rows([h.full_pdq or h.pdq for h in kept]), whole)
    # A frame matches through any of its hashes (box, mirror, whole frame where it has bars).
    after = np.min([_nearest(_rows([h.queries()[min(i, len(h.queries()) - 1)] for h in kept]),
                             box) for i in range(3)], axis=0)
    return (len(kept), float(np.mean(before <= MAX_DISTANCE)),
            float(np.mean(after <= MAX_DISTANCE)), float(np.median(before)),
            float(np.median(after)))


def _variant_table(videos: dict[tuple[str, str], Path], sources: list[str]) -> list[str]:
    banked = {name: _hashed(videos[(name, "source")], 1.0) for name in sources}
    lines = ["| variant | frames | before: share within 31 | after | median bits before | "
             "after |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for variant in VARIANTS:
        totals = np.zeros(5)
        for name in sources:
            frames, *rest = _shares(_hashed(videos[(name, variant)], 0.5), banked[name])
            totals += np.array([frames, *(r * frames for r in rest)])
        frames = max(1.0, totals[0])
        lines.append(f"| {variant} | {int(totals[0])} | {totals[1] / frames:.0%} | "
                     f"{totals[2] / frames:.0%} | {totals[3] / frames:.0f} | "
                     f"{totals[4] / frames:.0f} |")
    every_bank = [h for name in sources for h in banked[name]]
    unrelated = [key for key in videos if key[1] == "unrelated"]
    totals = np.zeros(5)
    for key in unrelated:
        frames, *rest = _shares(_hashed(videos[key], 0.5), every_bank)
        totals += np.array([frames, *(r * frames for r in rest)])
    frames = max(1.0, totals[0])
    lines.append(f"| unrelated (any source; false matches) | {int(totals[0])} | "
                 f"{totals[1] / frames:.0%} | {totals[2] / frames:.0%} | "
                 f"{totals[3] / frames:.0f} | {totals[4] / frames:.0f} |")
    return lines


def _bank(videos: dict[tuple[str, str], Path], sources: list[str], folder: Path, *,
          whole: bool, **rule: object) -> IndexedBank:
    """The sources banked as `vmc bank add` banks them (one frame a second, vPDQ files),
    loaded as the service loads a bank folder; `whole`: whole-frame hashes (before the
    content box) instead of the box's."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in sources:
        decode = DecodeConfig(sampling=SamplingSettings(max_keyframes=600, min_interval_s=1.0),
                              workers=WorkerSettings(threads=1), frame_hashes=True)
        keyframes = extract_keyframes(str(videos[(name, "source")]), [], decode, LOCAL)
        if whole:
            keyframes = dataclasses.replace(keyframes, hashes=_whole(keyframes.hashes))
        write_entry(folder, entry_of_keyframes(name, keyframes), replace=True)
    return load(HashListRule(name="bank", path=str(folder), action="block", **rule))


def _whole(frames: list[FrameHash]) -> list[FrameHash]:
    """Each frame's whole-frame hash alone: no box, no mirror (matching before issue 26)."""
    return [FrameHash(f.full_pdq or f.pdq, f.quality) for f in frames]


def _upload(path: Path) -> tuple[list[FrameHash], list[float], float | None]:
    """An upload's frame hashes as `vmc run` samples them (the default sampling)."""
    decode = DecodeConfig(workers=WorkerSettings(threads=1), frame_hashes=True)
    keyframes = extract_keyframes(str(path), [], decode, LOCAL)
    return keyframes.hashes, keyframes.pts_s, keyframes.probe.duration_s


def _best(matches: list[EntryMatch], entry: str | None) -> EntryMatch | None:
    """The match of `entry` (None: the strongest match of any entry)."""
    kept = [m for m in matches if entry is None or m.entry_id == entry]
    return max(kept, key=lambda m: (m.query_share, m.compared_share), default=None)


def _video_table(videos: dict[tuple[str, str], Path], sources: list[str],
                 folder: Path) -> list[str]:
    """Per variant: is the upload found as its source's entry, before (any one whole-frame
    hash within 31 bits of a bank of whole-frame hashes) and after (box, mirror and whole-frame
    hashes, video matching at the default shares), with the lowest shares seen: the defaults
    are chosen between these and the unrelated clips' highest."""
    before = _bank(videos, sources, folder / "before", whole=True, match="frame")
    after = _bank(videos, sources, folder / "after", whole=False, match="video",
                  min_query_share=0.0, min_compared_share=0.0)
    defaults = HashListRule(name="defaults", path="unused")
    lines = ["| variant | before: found | after: found | query share (lowest; unrelated: "
             "highest) | compared share |", "| --- | ---: | ---: | ---: | ---: |"]
    for variant in [*VARIANTS, "unrelated"]:
        related = variant != "unrelated"
        keys = ([(name, variant) for name in sources] if related else
                [key for key in videos if key[1] == "unrelated"])
        found_before = found_after = 0
        shares = []
        for key in keys:
            frames, pts_s, duration_s = _upload(videos[key])
            entry = key[0] if related else None
            found_before += _best(match_banks([before], _whole(frames), pts_s, duration_s),
                                  entry) is not None
            best = _best(match_banks([after], frames, pts_s, duration_s), entry)
            share = (best.query_share, best.compared_share) if best else (0.0, 0.0)
            shares.append(share)
            found_after += (share[0] >= defaults.min_query_share
                            and share[1] >= defaults.min_compared_share)
        pick = min if related else max
        label = variant if related else "unrelated (false matches)"
        lines.append(f"| {label} | {found_before}/{len(keys)} | {found_after}/{len(keys)} | "
                     f"{pick(q for q, _ in shares):.2f} | {pick(c for _, c in shares):.2f} |")
    return lines


def _box_hashes(path: Path, mode: str) -> Hashes:
    """Content-box PDQ of every 5th frame, the box found in a 384x384 stretched frame
    (`stretch`) or in an aspect-preserving resize to 384 on the longer side (`fit`)."""
    hexes = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 5:
                continue
            if mode == "stretch":
                small = resize_frame(frame, PDQ_SPEC)
            else:
                width, height = fit_size(frame.width, frame.height, PDQ_SPEC.size)
                small = resize_frame(frame, ResizeSpec(PDQ_SPEC.size, "pad"))[:height, :width]
            hexes.append(frame_hash(small).pdq)
    return _rows(hexes)


def _resize_table(videos: dict[tuple[str, str], Path], sources: list[str]) -> list[str]:
    lines = ["| variant | stretch 384x384: median bits to source | fit 384: median bits |",
             "| --- | ---: | ---: |"]
    barred = [v for v in VARIANTS if "box" in v]
    for variant in barred:
        medians = []
        for mode in ("stretch", "fit"):
            distances = np.concatenate([
                _nearest(_box_hashes(videos[(name, variant)], mode),
                         _box_hashes(videos[(name, "source")], mode)) for name in sources])
            medians.append(float(np.median(distances)))
        lines.append(f"| {variant} | {medians[0]:.0f} | {medians[1]:.0f} |")
    return lines


def _cost_table(repeat: int) -> list[str]:
    square = resize_frame(av.VideoFrame.from_ndarray(data.astronaut(), format="rgb24"),
                          PDQ_SPEC)
    framed = np.zeros((480, 640, 3), np.uint8)
    framed[60:420] = av.VideoFrame.from_ndarray(data.coffee(), format="rgb24").reformat(
        640, 360, "rgb24").to_ndarray()
    boxed = resize_frame(av.VideoFrame.from_ndarray(framed, format="rgb24"), PDQ_SPEC)
    plain = best_s(lambda: pdq_hash(square), repeat)
    rows = [("before: whole-frame PDQ (384x384)", plain),
            ("content box only, no bars", best_s(lambda: content_box(square), repeat)),
            ("content box only, letterboxed", best_s(lambda: content_box(boxed), repeat)),
            ("after: box + mirror, no bars", best_s(lambda: frame_hash(square), repeat)),
            ("after: box + mirror + whole frame, letterboxed",
             best_s(lambda: frame_hash(boxed), repeat))]
    return ["| per frame | ms | x before |", "| --- | ---: | ---: |",
            *(f"| {name} | {s * 1000:.2f} | {s / plain:.2f} |" for name, s in rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--unrelated", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--folder", type=Path, help="keep the variant set here")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or Path(scratch)
        videos = make_variant_set(folder, sources=args.sources, unrelated=args.unrelated)
        sources = [f"source-{i}" for i in range(args.sources)]
        lines = [f"Machine: {platform.machine()}, Python {platform.python_version()}, "
                 f"{args.sources} sources x {len(VARIANTS)} variants + {args.unrelated} "
                 "unrelated clips (6 s, 10 fps, H.264).", "",
                 *_variant_table(videos, sources), "",
                 "Found as its source's entry: one video each (3 sources), uploads sampled as "
                 "`vmc run` samples them, the bank made by `vmc bank add`:", "",
                 *_video_table(videos, sources, folder / "banks"), "",
                 "Where the box is found (letterboxed and pillarboxed variants, every 5th "
                 "frame):", "", *_resize_table(videos, sources), "",
                 f"Hashing cost (best of {args.repeat}):", "", *_cost_table(args.repeat)]
    emit(lines, args.results)


if __name__ == "__main__":
    main()
