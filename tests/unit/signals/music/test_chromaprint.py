"""The ctypes binding: constants that agree with the library, lengths, determinism, threads,
and a one-line start-up error without the library."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import pytest

from consumer.errors import ChromaprintUnavailable, ConfigError
from consumer.media import chromaprint
from consumer.media.chromaprint import DELAY_S, ITEM_S, SAMPLE_RATE, raw_fingerprint
from tests.unit.signals.music import sounds


def _pcm(seed: int, seconds: float) -> npt.NDArray[np.int16]:
    """A generated piece at 11025 Hz (low-passed below 5 kHz, then every other sample)."""
    spectrum = np.fft.rfft(sounds.track(seed, seconds))
    spectrum[int(spectrum.size * 5000 / (sounds.RATE / 2)):] = 0
    signal = np.fft.irfft(spectrum)[::2]
    return (np.clip(signal, -1, 1) * 32767).astype(np.int16)


def test_item_and_delay_constants_are_the_librarys_own() -> None:
    lib = chromaprint._library()
    lib.chromaprint_get_item_duration.argtypes = [ctypes.c_void_p]
    lib.chromaprint_get_delay.argtypes = [ctypes.c_void_p]
    ctx = lib.chromaprint_new(1)
    try:
        assert lib.chromaprint_get_item_duration(ctx) / SAMPLE_RATE == ITEM_S
        assert lib.chromaprint_get_delay(ctx) / SAMPLE_RATE == DELAY_S
    finally:
        lib.chromaprint_free(ctx)
    assert chromaprint.version().startswith("1.")


def test_a_fingerprint_has_one_item_per_item_s_after_the_first_delay_s() -> None:
    for seconds in (5.0, 20.0):
        pcm = _pcm(1, seconds)
        fingerprint = raw_fingerprint(pcm)
        assert fingerprint.dtype == np.uint32
        assert fingerprint.size == int((pcm.size / SAMPLE_RATE - DELAY_S) // ITEM_S)


def test_audio_too_short_to_fingerprint_gives_an_empty_one() -> None:
    empty = raw_fingerprint(_pcm(1, 2.0))
    assert empty.dtype == np.uint32 and empty.size == 0
    assert raw_fingerprint(np.zeros(0, dtype=np.int16)).size == 0


def test_the_same_audio_at_another_sample_rate_gives_nearly_the_same_fingerprint() -> None:
    signal = sounds.track(2, 12.0)
    at_rate = raw_fingerprint((signal * 32767).astype(np.int16), sounds.RATE)
    at_11025 = raw_fingerprint(_pcm(2, 12.0))
    n = min(at_rate.size, at_11025.size)
    differing = np.unpackbits((at_rate[:n] ^ at_11025[:n]).view(np.uint8)).mean()
    assert differing < 0.1


def test_concurrent_calls_give_the_sequential_results() -> None:
    inputs = [_pcm(seed, 8.0) for seed in range(4)]
    expected = [raw_fingerprint(pcm) for pcm in inputs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(raw_fingerprint, inputs * 3))
    for index, fingerprint in enumerate(got):
        np.testing.assert_array_equal(fingerprint, expected[index % 4])


@pytest.fixture
def missing_library(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(chromaprint, "LIBRARY", "libchromaprint-not-here.so.9")
    chromaprint._library.cache_clear()
    yield
    chromaprint._library.cache_clear()


@pytest.mark.usefixtures("missing_library")
def test_without_the_library_a_config_error_says_what_to_install() -> None:
    with pytest.raises(ChromaprintUnavailable, match="install Debian libchromaprint1") as info:
        raw_fingerprint(_pcm(1, 5.0))
    assert isinstance(info.value, ConfigError)
    assert "\n" not in str(info.value)
