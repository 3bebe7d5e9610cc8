"""The information measure: noise, silence and tones sit above LOW_INFORMATION, music and
speech (alone, or under each other or noise) below it, whatever the seed, rate or level."""

from __future__ import annotations

import numpy as np
import pytest

from consumer.media.chromaprint import raw_fingerprint
from consumer.signals.music import information
from consumer.signals.music.information import (
    LOW_INFORMATION,
    chance_agreement,
    informative,
    low_information,
)
from tests.unit.signals.music import sounds


def _fp(signal: sounds.Signal, rate: int = sounds.RATE) -> np.ndarray:
    return raw_fingerprint(sounds.pcm16(signal), rate)


@pytest.mark.parametrize(("name", "signal", "rate"), [
    ("white", sounds.white(1, 40, 0.05), sounds.RATE),
    ("white, loud, 44.1 kHz", sounds.white(2, 40, 0.5, 44100), 44100),
    ("white, 8 kHz", sounds.white(3, 40, 0.2, 8000), 8000),
    ("pink", sounds.coloured(4, 40, 0.2), sounds.RATE),
    ("pink, 48 kHz", sounds.coloured(5, 40, 0.3, 48000), 48000),
    ("dithered silence", sounds.white(6, 40, 0.0005), sounds.RATE),
    ("tone", sounds.tone(440, 40, 0.5), sounds.RATE),
    ("tone under noise", sounds.tone(1000, 40, 0.4) + sounds.white(7, 40, 0.02), sounds.RATE),
])
def test_noise_silence_and_tones_carry_no_information(name: str, signal: sounds.Signal,
                                                      rate: int) -> None:
    fingerprint = _fp(signal, rate)
    assert chance_agreement(fingerprint).min() >= LOW_INFORMATION, name
    assert not informative(fingerprint).any() and low_information(fingerprint)


@pytest.mark.parametrize("seed", [3, 17, 40, 61, 66])
def test_music_carries_information(seed: int) -> None:
    fingerprint = _fp(sounds.track(seed, 40.0))
    assert chance_agreement(fingerprint).max() < LOW_INFORMATION
    assert informative(fingerprint).all() and not low_information(fingerprint)


def test_speech_and_music_under_speech_or_noise_carry_information() -> None:
    music = sounds.track(5, 40.0)
    for signal in (sounds.speech(40.0), sounds.mix(music, sounds.speech(40.0), 0.0),
                   sounds.mix(music, sounds.noise(40.0), -5.0)):
        assert informative(_fp(signal)).mean() > 0.95


def test_a_stretch_of_noise_inside_music_is_marked_and_the_music_is_not() -> None:
    signal = np.concatenate([sounds.track(8, 30.0), sounds.white(9, 30, 0.2),
                             sounds.track(9, 30.0)])
    mask = informative(_fp(signal))
    item = 90.0 / mask.size  # seconds per item, near enough
    around = int(8 / item)  # the 10 s window reaches across the edges
    assert mask[:int(30 / item) - around].all() and mask[int(60 / item) + around:].all()
    assert not mask[int(30 / item) + around:int(60 / item) - around].any()


def test_blocks_give_the_same_mask_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    held = np.repeat(rng.integers(0, 2**32, 300, dtype=np.uint64).astype(np.uint32), 4)
    fingerprint = np.concatenate([held, np.full(500, 0x0F0F0F0F, np.uint32), held])
    whole = chance_agreement(fingerprint) < LOW_INFORMATION
    monkeypatch.setattr(information, "_BLOCK_ITEMS", 97)
    assert np.array_equal(informative(fingerprint), whole)
    assert whole.any() and not whole.all()
    assert informative(np.zeros(0, np.uint32)).size == 0


def test_a_fingerprint_shorter_than_a_window_is_not_judged() -> None:
    tone = _fp(sounds.tone(440, 12.0, 0.5))  # ~76 items
    assert tone.size < information.WINDOW_ITEMS and not informative(tone).any()
    assert not low_information(tone)
    assert low_information(_fp(sounds.tone(440, 14.0, 0.5)))
