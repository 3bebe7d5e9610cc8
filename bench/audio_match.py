"""Music in the soundtrack: how well and how fast catalogue music is found inside uploads.

    .venv/bin/python bench/audio_match.py [--cases 12] [--tracks 100] [--catalogue 10000]
                                          [--real 300] [--repeat 5] [--results FILE]

(a) Accuracy: a catalogue of --tracks generated pieces (40-60 s each, built with
    build_catalogue from .wav files); per condition (speech or white noise at +10, +5, 0, -5 dB)
    --cases uploads of 60 s (AAC 128 kbit/s) hold a 20 s excerpt of a random track, starting
    mid-track, placed at a random time. Recall (right track, overlapping the truth), wrong-track
    matches, and the mean |error| of start, end and reference offset. Clean uploads (speech,
    noise, music not in the catalogue) count false matches.
(b) Speed: a 10-minute upload matched against --catalogue tracks of 3 minutes: --real of them
    generated audio, the rest synthetic copies of those fingerprints (each rotated by a random
    number of items and XOR-ed with a random 32-bit mask, so each is distinct but keeps music's
    item-to-item structure). CatalogueIndex against a numpy linear scan that checks every
    catalogue item against the upload's keys and then votes and verifies the same way (same run).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit
from consumer.media.chromaprint import ITEM_S, raw_fingerprint
from consumer.media.pcm import file_pcm
from consumer.signals.music.catalogue import Track, build_catalogue, save_catalogue
from consumer.signals.music.matching import (
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_DURATION_S,
    CatalogueIndex,
    MusicMatch,
    keys,
)
from tests.unit.signals.music import sounds

EXCERPT_S = 20.0
UPLOAD_S = 60.0
SNRS = (10, 5, 0, -5)


def _upload_fingerprint(signal: sounds.Signal, folder: Path, bitrate: int = 128_000,
                        ) -> npt.NDArray[np.uint32]:
    path = sounds.write(folder / "upload.m4a", signal, bitrate)
    pcm = file_pcm(path)
    assert pcm is not None
    return raw_fingerprint(pcm)


def _track_length(seed: int) -> float:
    return float(np.random.default_rng(10_000 + seed).uniform(40, 60))


def accuracy(tracks: int, cases: int, folder: Path) -> tuple[list[str], dict[str, object]]:
    for seed in range(tracks):
        sounds.write(folder / f"track-{seed:04d}.wav", sounds.track(seed, _track_length(seed)))
    catalogue = build_catalogue(folder)
    save_catalogue(catalogue, folder / "catalogue.npz")
    per_track = (folder / "catalogue.npz").stat().st_size / len(catalogue)
    index = CatalogueIndex(catalogue)
    rng = np.random.default_rng(2024)
    backgrounds = {"speech": sounds.speech(UPLOAD_S), "noise": sounds.noise(UPLOAD_S)}
    lines = ["| interference | SNR dB | recall | wrong track | mean abs start err s | "
             "mean abs end err s | mean abs ref offset err s | mean confidence |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    signed: list[tuple[float, float]] = []
    for name, background in backgrounds.items():
        for snr in SNRS:
            found, wrong, errors, confidences = 0, 0, [], []
            for _ in range(cases):
                seed = int(rng.integers(0, tracks))
                ref_s = float(rng.uniform(3.0, _track_length(seed) - EXCERPT_S - 1.0))
                at_s = float(rng.uniform(2.0, UPLOAD_S - EXCERPT_S - 2.0))
                music = sounds.track(seed, _track_length(seed))
                excerpt = music[int(ref_s * sounds.RATE):int((ref_s + EXCERPT_S) * sounds.RATE)]
                matches = index.match(_upload_fingerprint(
                    sounds.place(background, excerpt, at_s, snr), folder))
                hit = _hit(matches, f"track-{seed:04d}", at_s)
                wrong += sum(m.track_id != f"track-{seed:04d}" for m in matches)
                if hit is None:
                    continue
                found += 1
                confidences.append(hit.confidence)
                errors.append((abs(hit.start_s - at_s), abs(hit.end_s - at_s - EXCERPT_S),
                               abs(hit.reference_offset_s - ref_s)))
                signed.append((hit.start_s - at_s, hit.end_s - at_s - EXCERPT_S))
            mean = np.mean(errors, axis=0) if errors else [float("nan")] * 3
            lines.append(f"| {name} | {snr:+d} | {found}/{cases} | {wrong} | {mean[0]:.2f} | "
                         f"{mean[1]:.2f} | {mean[2]:.2f} | "
                         f"{np.mean(confidences) if confidences else float('nan'):.3f} |")
    false = {}
    others = np.concatenate([sounds.track(tracks + 1 + k, 30.0) for k in range(2)])
    for name, signal in {**backgrounds, "music not in the catalogue": others}.items():
        false[name] = index.match(_upload_fingerprint(signal[:int(UPLOAD_S * sounds.RATE)],
                                                      folder))
    lines.append("")
    lines.append("Clean uploads (60 s, nothing from the catalogue): " + ", ".join(
        f"{name}: {len(found_)} matches" for name, found_ in false.items()))
    if signed:
        bias = np.mean(signed, axis=0)
        lines.append(f"Signed mean error over every hit: start {bias[0]:+.2f} s, "
                     f"end {bias[1]:+.2f} s.")
    return lines, {"bytes_per_track": per_track}


def _hit(matches: list[MusicMatch], track_id: str, at_s: float) -> MusicMatch | None:
    for match in matches:
        if match.track_id == track_id and match.start_s < at_s + EXCERPT_S \
                and match.end_s > at_s:
            return match
    return None


def _fingerprint_of_seed(seed: int) -> npt.NDArray[np.uint32]:
    signal = sounds.track(seed, 180.0)
    return raw_fingerprint((signal * 32767).astype(np.int16), sounds.RATE)


class LinearScan(CatalogueIndex):
    """The peer: no inverted index; every catalogue entry is checked against the upload's keys
    (searchsorted into the upload's sorted keys), then the same voting and verification."""

    def __init__(self, tracks: list[Track]) -> None:
        super().__init__(tracks)
        order = np.argsort(self._entry_track, kind="stable")  # catalogue order, as stored
        self._scan_track = self._entry_track[order]
        self._scan_pos = self._entry_pos[order]
        starts = self._starts[self._scan_track] + self._scan_pos
        self._scan_keys = keys(self._items[starts])

    def _hits(self, query: npt.NDArray[np.uint32], usable: npt.NDArray[np.bool_],
              ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        query_keys = keys(query)
        positions = np.flatnonzero(np.r_[True, query_keys[1:] != query_keys[:-1]] & usable
                                   ).astype(np.int64)
        order = np.argsort(query_keys[positions], kind="stable")
        sorted_keys, sorted_pos = query_keys[positions][order], positions[order]
        lo = np.searchsorted(sorted_keys, self._scan_keys, "left")
        hi = np.searchsorted(sorted_keys, self._scan_keys, "right")
        sizes = hi - lo
        first = np.cumsum(sizes) - sizes
        picks = np.arange(int(sizes.sum())) + np.repeat(lo - first, sizes)
        return (np.repeat(self._scan_track, sizes), np.repeat(self._scan_pos, sizes),
                sorted_pos[picks])


def _best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * min(times)


def speed(size: int, real: int, repeat: int, folder: Path) -> list[str]:
    with ProcessPoolExecutor() as pool:
        reals = list(pool.map(_fingerprint_of_seed, range(50_000, 50_000 + real)))
    rng = np.random.default_rng(7)
    tracks = [Track(f"real-{k}", fp) for k, fp in enumerate(reals)]
    for k in range(size - real):
        source = reals[k % real]
        fake = np.roll(source, int(rng.integers(0, source.size))) ^ np.uint32(
            rng.integers(0, 2**32))
        tracks.append(Track(f"synthetic-{k}", fake.astype(np.uint32)))
    started = time.perf_counter()
    index = CatalogueIndex(tracks)
    build_s = time.perf_counter() - started
    peer = LinearScan(tracks)
    # The upload: 10 minutes of speech, three catalogue excerpts of 30 s at +5 dB.
    upload = sounds.speech(600.0).copy()
    truth = []
    for k, at_s in enumerate((60.0, 250.0, 480.0)):
        music = sounds.track(50_000 + k, 180.0)
        excerpt = music[int(40 * sounds.RATE):int(70 * sounds.RATE)]
        upload = sounds.place(upload, excerpt, at_s, 5.0)
        truth.append((f"real-{k}", at_s))
    query = _upload_fingerprint(upload, folder)
    index_matches = index.match(query)
    peer_matches = peer.match(query)
    assert index_matches == peer_matches, (index_matches, peer_matches)
    index_ms = _best_ms(lambda: index.match(query), repeat)
    peer_ms = _best_ms(lambda: peer.match(query), repeat)
    # Real fingerprints share keys more unevenly than masked copies: the hits (voting work)
    # one upload causes in the generated tracks alone, and in masked copies of them.
    masked = [Track(t.track_id, t.fingerprint ^ np.uint32(rng.integers(0, 2**32)))
              for t in tracks[:real]]
    usable = np.ones(query.size, dtype=bool)
    skew = (CatalogueIndex(tracks[:real])._hits(query, usable)[0].size
            / max(1, CatalogueIndex(masked)._hits(query, usable)[0].size))
    save_catalogue(tracks, folder / "big.npz")
    found = sum(_hit(index_matches, track_id, at_s) is not None for track_id, at_s in truth)
    other_music = np.concatenate([sounds.track(90_000 + k, 30.0) for k in range(20)])
    clean = {"speech": sounds.speech(600.0), "music not in the catalogue": other_music,
             "both, music at +5 dB": sounds.mix(other_music, sounds.speech(600.0), 5.0)}
    false = {name: len(index.match(_upload_fingerprint(signal, folder)))
             for name, signal in clean.items()}
    lines = [
        f"Catalogue: {size} tracks of 3 min ({real} generated audio, {size - real} synthetic "
        f"copies), {index.items:,} items indexed, built in {build_s:.1f} s, "
        f"{index.nbytes / 2**20:.0f} MiB in memory; file "
        f"{(folder / 'big.npz').stat().st_size / 2**20:.1f} MiB. Upload: 10 min "
        f"({query.size} items), speech with 3 catalogue excerpts of 30 s at +5 dB: "
        f"{found}/3 found, {len(index_matches) - found} other matches. Clean 10-min uploads: "
        + ", ".join(f"{name}: {count} matches" for name, count in false.items()) + ".",
        "",
        "| matcher | ms per 10-min upload | x linear scan |",
        "| --- | ---: | ---: |",
        f"| numpy linear scan (peer) | {peer_ms:.1f} | 1.0 |",
        f"| CatalogueIndex | {index_ms:.1f} | {peer_ms / index_ms:.1f} |",
        "",
        f"Voting work on real fingerprints: the {real} generated tracks alone get {skew:.2f}x "
        "the hits that masked copies of them get from the same upload (their keys are less "
        "evenly spread), so a catalogue of real music costs more than the synthetic rows show.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--tracks", type=int, default=100)
    parser.add_argument("--catalogue", type=int, default=10_000)
    parser.add_argument("--real", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["accuracy", "speed"])
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "a").mkdir()
        (folder / "b").mkdir()
        accuracy_lines, stats = accuracy(args.tracks, args.cases, folder / "a") \
            if args.only != "speed" else ([], {"bytes_per_track": float("nan")})
        speed_lines = speed(args.catalogue, args.real, args.repeat, folder / "b") \
            if args.only != "accuracy" else []
    lines = [
        f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy "
        f"{np.__version__}. Defaults: min_confidence {DEFAULT_MIN_CONFIDENCE}, "
        f"min_duration_s {DEFAULT_MIN_DURATION_S}; one item = {ITEM_S * 1000:.1f} ms.",
        "",
        f"(a) Accuracy: {args.tracks} generated tracks ({stats['bytes_per_track']:.0f} bytes "
        f"per track on disk), {args.cases} uploads per row:",
        "",
        *accuracy_lines,
        "",
        "(b) Speed:",
        "",
        *speed_lines,
    ]
    emit(lines, args.results)


if __name__ == "__main__":
    main()
