"""Noise never matches noise (issue 24, finding 9): a catalogue of white, pink and brown noise,
dithered silence and tones, and the generated music catalogue, against noise of other seeds,
rates and levels and other tones: no match at all. Without the information measure the same
queries do match (the measurement can fail), and `vmc catalogue build` leaves such tracks out;
real excerpts are still found."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from consumer.media.chromaprint import raw_fingerprint
from consumer.signals.music import information
from consumer.signals.music.catalogue import Track, build_catalogue
from consumer.signals.music.matching import CatalogueIndex
from tests.unit.signals.music import sounds
from tests.unit.signals.music.conftest import Music, track_id

Items = np.ndarray


def _fp(signal: sounds.Signal, rate: int = sounds.RATE) -> Items:
    return raw_fingerprint(sounds.pcm16(signal), rate)


def _noise_signals() -> dict[str, tuple[sounds.Signal, int]]:
    rate = sounds.RATE
    out = {f"white-{k}": (sounds.white(k, 60, 0.2), rate) for k in range(3)}
    out |= {f"pink-{k}": (sounds.coloured(10 + k, 60, 0.2), rate) for k in range(2)}
    out["brown"] = (sounds.coloured(20, 60, 0.2, power=2.0), rate)
    out["silence"] = (sounds.white(30, 60, 0.0005), rate)
    out |= {f"tone-{f}": (sounds.tone(f, 60, 0.5), rate) for f in (440, 1000)}
    return out


@pytest.fixture(scope="module")
def noise_tracks() -> list[Track]:
    return [Track(name, _fp(signal, rate)) for name, (signal, rate) in _noise_signals().items()]


QUERIES = {
    "white 8 kHz quiet": lambda: (sounds.white(101, 90, 0.02, 8000), 8000),
    "white 44.1 kHz": lambda: (sounds.white(102, 90, 0.1, 44100), 44100),
    "white 48 kHz loud": lambda: (sounds.white(103, 90, 0.6, 48000), 48000),
    "pink 22.05 kHz": lambda: (sounds.coloured(104, 90, 0.3), sounds.RATE),
    "pink 44.1 kHz quiet": lambda: (sounds.coloured(105, 90, 0.03, 44100), 44100),
    "brown 48 kHz": lambda: (sounds.coloured(106, 90, 0.2, 48000, power=2.0), 48000),
    "silence 44.1 kHz": lambda: (sounds.white(107, 90, 0.0003, 44100), 44100),
    "tone 440 Hz": lambda: (sounds.tone(440, 90, 0.3, 44100), 44100),
    "tone 523 Hz under noise": lambda: (sounds.tone(523.25, 90, 0.4) + sounds.white(108, 90, 0.05),
                                        sounds.RATE),
}


@pytest.fixture(scope="module")
def queries() -> dict[str, Items]:
    return {name: _fp(*make()) for name, make in QUERIES.items()}


def test_no_noise_or_tone_matches_noise_tones_or_music(
        noise_tracks: list[Track], music: Music, queries: dict[str, Items]) -> None:
    index = CatalogueIndex([*noise_tracks, *music.tracks])
    found = {name: index.match(query) for name, query in queries.items()}
    assert {name: m for name, m in found.items() if m} == {}


def test_without_the_measure_noise_does_match_noise(
        noise_tracks: list[Track], queries: dict[str, Items],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(information, "LOW_INFORMATION", 1.01)  # everything informs
    index = CatalogueIndex(noise_tracks)
    matched = [name for name, query in queries.items() if index.match(query)]
    assert {"white 44.1 kHz", "white 48 kHz loud", "pink 22.05 kHz"} <= set(matched)


@pytest.mark.parametrize(("seed", "kind", "snr_db"), [(7, "speech", 5.0), (41, "noise", 0.0),
                                                      (12, "noise", -5.0)])
def test_a_real_excerpt_still_matches_beside_a_noise_catalogue(
        noise_tracks: list[Track], music: Music, seed: int, kind: str, snr_db: float) -> None:
    index = CatalogueIndex([*noise_tracks, *music.tracks])
    excerpt = music.signal(seed)[int(4 * sounds.RATE):int(24 * sounds.RATE)]
    background = sounds.speech(60.0) if kind == "speech" else sounds.noise(60.0)
    (match,) = index.match(_fp(sounds.place(background, excerpt, 25.0, snr_db)))
    assert match.track_id == track_id(seed)
    assert match.start_s == pytest.approx(25.0, abs=1.0)
    assert match.end_s == pytest.approx(45.0, abs=1.0)


def test_catalogue_build_skips_noise_silence_and_tones_by_name(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for name, (signal, rate) in _noise_signals().items():
        if rate == sounds.RATE and name != "brown":  # brown noise informs: kept (see below)
            sounds.write(tmp_path / f"{name}.wav", signal)
    sounds.write(tmp_path / "song.wav", sounds.track(2, 30.0))
    sounds.write(tmp_path / "intro-then-song.wav", np.concatenate(
        [sounds.white(5, 12, 0.1), sounds.track(3, 30.0)]))
    with caplog.at_level(logging.WARNING, logger="consumer.signals.music"):
        tracks = build_catalogue(tmp_path)
    assert [t.track_id for t in tracks] == ["intro-then-song", "song"]
    warned = " ".join(r.getMessage() for r in caplog.records)
    for name in ("white-0", "pink-1", "silence", "tone-440"):
        assert f"skipping {name}.wav: mostly noise, silence or a steady tone" in warned


def test_brown_noise_informs_but_agrees_too_little_to_match(noise_tracks: list[Track]) -> None:
    brown = _fp(sounds.coloured(109, 90, 0.2, power=2.0))
    assert information.informative(brown).mean() > 0.5  # its bits wander like music's
    assert CatalogueIndex(noise_tracks).match(brown) == []
