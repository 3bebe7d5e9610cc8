"""Music matching's bounds and its false matches on noise (issue 24).

    .venv/bin/python bench/audio_safety.py [--catalogue 10000] [--real 40] [--only bounds|noise]
                                           [--results FILE]

(a) Bounds: one CatalogueIndex.match call per soundtrack of 60 minutes and 4 hours against
    --catalogue tracks of 3 minutes (--real generated pieces, the rest copies of their
    fingerprints rotated and XOR-ed with a random mask, as in bench/audio_match.py). The
    soundtracks are fingerprints of generated music not in the catalogue, XOR-masked per
    3 minutes, with one catalogue excerpt of 30 s. Time: best of --repeat; peak memory: what
    tracemalloc (which numpy reports to) saw allocated at most during one call. The 4-hour
    soundtrack is matched whole and as the decode worker now hands it over: cut at
    signals.music.max_soundtrack_s.
(b) Noise: a catalogue of noise and tones (white, pink, brown noise, dithered silence, sine
    tones) and the generated music catalogue; queries of white/pink/brown noise of other seeds,
    sample rates and levels, and tones: every match counted. Then real excerpts under speech and
    noise, to show they still match, and which catalogue tracks `vmc catalogue build` skips.

Runs on any version of the music signal that has CatalogueIndex.match(fingerprint), so the same
script gives the before and after figures (PYTHONPATH at the older tree).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import best_s, emit
from consumer.media.chromaprint import ITEM_S, raw_fingerprint
from consumer.signals.music.catalogue import Track
from consumer.signals.music.matching import CatalogueIndex
from tests.unit.signals.music import sounds

Items = npt.NDArray[np.uint32]
TRACK_S = 180.0


def _fp(signal: npt.NDArray[np.float32], rate: int = sounds.RATE) -> Items:
    return raw_fingerprint((np.clip(signal, -1, 1) * 32767).astype(np.int16), rate)


def _masked(fingerprint: Items, rng: np.random.Generator) -> Items:
    rolled = np.roll(fingerprint, int(rng.integers(0, fingerprint.size)))
    return (rolled ^ np.uint32(rng.integers(0, 2**32))).astype(np.uint32)


def _peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bounds(size: int, real: int, repeat: int) -> list[str]:
    reals = [_fp(sounds.track(50_000 + k, TRACK_S)) for k in range(real)]
    rng = np.random.default_rng(7)
    tracks = [Track(f"real-{k}", fp) for k, fp in enumerate(reals)]
    tracks += [Track(f"synthetic-{k}", _masked(reals[k % real], rng))
               for k in range(size - real)]
    index = CatalogueIndex(tracks)
    other = [_fp(sounds.track(90_000 + k, TRACK_S)) for k in range(20)]
    per_track = other[0].size
    from consumer.signals.music.settings import MusicSettings
    cap_s = MusicSettings().max_soundtrack_s
    lines = [f"Catalogue: {size} tracks of 3 min ({real} generated, the rest masked copies), "
             f"{index.items:,} items indexed.", "",
             "| soundtrack | items | matches | s per call (best of "
             f"{repeat}) | peak MiB in the call |", "| --- | ---: | ---: | ---: | ---: |"]
    for minutes in (60, 240):
        pieces = int(np.ceil(minutes * 60 / TRACK_S))
        query = np.concatenate([_masked(other[k % len(other)], rng) for k in range(pieces)])
        excerpt = reals[1][200:200 + int(30 / ITEM_S)]
        query[3 * per_track:3 * per_track + excerpt.size] = excerpt
        cases = [(f"{minutes} min", query)]
        if minutes * 60 > cap_s:
            cases.append((f"{minutes} min cut at signals.music.max_soundtrack_s={cap_s:g}",
                          query[:int(cap_s / ITEM_S)]))
        for name, items in cases:
            found = index.match(items)
            seconds = best_s(lambda items=items: index.match(items), repeat)
            peak = _peak_bytes(lambda items=items: index.match(items))
            lines.append(f"| {name} | {items.size:,} | {len(found)} | {seconds:.2f} | "
                         f"{peak / 2**20:.0f} |")
    return lines


def _white(seed: int, seconds: float, level: float, rate: int) -> npt.NDArray[np.float32]:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * rate))
            ).astype(np.float32)


def _tone(freq: float, seconds: float, level: float, rate: int) -> npt.NDArray[np.float32]:
    return (level * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)
            ).astype(np.float32)


def _noise_catalogue() -> list[Track]:
    rate = sounds.RATE
    entries = {f"white-{k}": _fp(_white(k, 60, 0.2, rate)) for k in range(3)}
    entries |= {f"pink-{k}": _fp(sounds.coloured(10 + k, 60, 0.2, rate)) for k in range(2)}
    entries["brown-0"] = _fp(sounds.coloured(20, 60, 0.2, rate, power=2.0))
    entries["silence"] = _fp(_white(30, 60, 0.0005, rate))
    entries |= {f"tone-{f}": _fp(_tone(f, 60, 0.5, rate)) for f in (440, 1000, 3000)}
    return [Track(name, fp) for name, fp in entries.items()]


def _noise_queries() -> dict[str, Items]:
    queries: dict[str, Items] = {}
    for seed, rate, level in ((101, 8000, 0.05), (102, 22050, 0.3), (103, 44100, 0.1),
                              (104, 48000, 0.6)):
        queries[f"white seed {seed} {rate} Hz level {level}"] = _fp(
            _white(seed, 90, level, rate), rate)
        queries[f"pink seed {seed} {rate} Hz level {level}"] = _fp(
            sounds.coloured(seed, 90, level, rate), rate)
    queries["brown seed 105 44100 Hz"] = _fp(sounds.coloured(105, 90, 0.2, 44100, power=2.0), 44100)
    queries["dithered silence 48000 Hz"] = _fp(_white(106, 90, 0.0003, 48000), 48000)
    for freq in (440, 523.25, 2000):
        queries[f"tone {freq} Hz 44100 Hz"] = _fp(_tone(freq, 90, 0.4, 44100), 44100)
    queries["tone 440 Hz under white noise"] = _fp(
        _tone(440, 90, 0.4, 22050) + _white(107, 90, 0.05, 22050), 22050)
    return queries


def _music_catalogue(count: int) -> list[Track]:
    return [Track(f"track-{seed:02d}", _fp(sounds.track(seed, 30.0 + (seed * 7) % 16)))
            for seed in range(count)]


def noise(music_tracks: int) -> list[str]:
    noise_index = CatalogueIndex(_noise_catalogue())
    music = _music_catalogue(music_tracks)
    music_index = CatalogueIndex(music)
    queries = _noise_queries()
    lines = ["| query | matches in the noise/tone catalogue (10) | matches in the music "
             f"catalogue ({music_tracks}) | best confidence |", "| --- | ---: | ---: | ---: |"]
    total = 0
    for name, query in queries.items():
        found = noise_index.match(query) + music_index.match(query)
        in_noise = len(noise_index.match(query))
        total += len(found)
        best = max((m.confidence for m in found), default=None)
        lines.append(f"| {name} | {in_noise} | {len(found) - in_noise} | "
                     f"{'' if best is None else f'{best:.3f}'} |")
    lines += ["", f"False matches on noise and tones: {total} over {len(queries)} queries x "
              f"{10 + music_tracks} tracks.", ""]
    # Real excerpts: 20 s of a catalogue track inside 60 s of speech or noise still match.
    hits, cases = 0, 0
    for number, kind, snr in ((7, "speech", 10.0), (23, "speech", 5.0), (41, "noise", 0.0),
                              (12, "noise", -5.0), (3, "noise", 5.0)):
        seed = number % music_tracks
        signal = sounds.track(seed, 30.0 + (seed * 7) % 16)
        excerpt = signal[int(5 * sounds.RATE):int(25 * sounds.RATE)]
        background = sounds.speech(60.0) if kind == "speech" else sounds.noise(60.0)
        found = music_index.match(_fp(sounds.place(background, excerpt, 20.0, snr)))
        cases += 1
        hits += [m.track_id for m in found] == [f"track-{seed:02d}"]
    lines.append(f"Real 20 s excerpts under speech (+10, +5 dB) and noise (+5, 0, -5 dB): "
                 f"{hits}/{cases} found, and nothing else.")
    try:
        from consumer.signals.music.information import low_information
    except ImportError:
        return lines
    skipped = [t.track_id for t in _noise_catalogue() if low_information(t.fingerprint)]
    kept_music = sum(not low_information(t.fingerprint) for t in music)
    lines.append(f"`vmc catalogue build` skips {len(skipped)}/10 noise and tone tracks "
                 f"({', '.join(skipped)}) and keeps {kept_music}/{music_tracks} music tracks.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalogue", type=int, default=10_000)
    parser.add_argument("--real", type=int, default=40)
    parser.add_argument("--music", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["bounds", "noise"])
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    lines = [f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy "
             f"{np.__version__}.", ""]
    if args.only != "noise":
        lines += ["(a) Bounds:", "", *bounds(args.catalogue, args.real, args.repeat), ""]
    if args.only != "bounds":
        lines += ["(b) Noise:", "", *noise(args.music)]
    emit(lines, args.results)


if __name__ == "__main__":
    main()
