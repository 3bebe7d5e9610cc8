"""The soundtrack in the decode worker: fingerprinted when asked, and never at the cost of the
visual result (no audio, or audio that cannot be decoded, is stated, not fatal)."""

from __future__ import annotations

import time
from pathlib import Path

import av
import av.container
import numpy as np
import pytest

from consumer.audio.chromaprint import ITEM_S
from consumer.media import extract
from consumer.media.extract import extract_keyframes
from consumer.media.resize import ResizeSpec
from consumer.settings import DecodeSettings, SourceSettings
from devstack.samples import add_soundtrack, make_video, synth_track
from tests.unit.media.videos import make_video as make_clip

SPECS = [ResizeSpec(32, "pad")]
LOCAL = SourceSettings(allowed_schemes=["file"])
ON = DecodeSettings(soundtrack=True)


@pytest.fixture(scope="module")
def with_music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("soundtrack")
    clip = make_video(folder / "v.mp4", seconds=12, width=64, height=48)
    return add_soundtrack(clip, synth_track(seed=4, seconds=12), folder / "music.mp4")


def test_the_soundtrack_is_fingerprinted_over_its_length(with_music: Path) -> None:
    result = extract_keyframes(str(with_music), SPECS, ON, LOCAL)
    assert result.audio == "ok" and result.audio_fingerprint is not None
    assert abs(result.audio_fingerprint.size * ITEM_S - 12) < 3  # Chromaprint's edges
    assert result.audio_s > 0 and result.pts_s


def test_off_unless_asked(with_music: Path) -> None:
    result = extract_keyframes(str(with_music), SPECS, DecodeSettings(), LOCAL)
    assert (result.audio, result.audio_fingerprint) == ("off", None)


def test_a_video_without_audio_says_so_and_keeps_its_frames(tmp_path: Path) -> None:
    result = extract_keyframes(str(make_clip(tmp_path / "silent.mp4")), SPECS, ON, LOCAL)
    assert (result.audio, result.audio_fingerprint) == ("none", None)
    assert result.pts_s


def test_an_undecodable_soundtrack_keeps_the_visual_result(
        with_music: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(container: object, max_duration_s: float, deadline: float | None) -> None:
        raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(extract, "soundtrack_pcm", broken)
    result = extract_keyframes(str(with_music), SPECS, ON, LOCAL)
    assert (result.audio, result.audio_fingerprint) == ("undecodable", None)
    expected = extract_keyframes(str(with_music), SPECS, DecodeSettings(), LOCAL)
    assert result.pts_s == expected.pts_s
    assert np.array_equal(result.frames[SPECS[0]], expected.frames[SPECS[0]])


def test_a_soundtrack_cut_by_its_time_share_is_partial_and_still_fingerprinted(
        with_music: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = extract.soundtrack_pcm

    def slow(container: av.container.InputContainer, max_duration_s: float,
             deadline: float | None = None) -> np.ndarray | None:
        pcm = real(container, 6.0)  # what was decoded before the time share ran out
        while deadline is not None and time.monotonic() <= deadline:
            time.sleep(0.01)
        return pcm

    monkeypatch.setattr(extract, "soundtrack_pcm", slow)
    monkeypatch.setattr(extract, "AUDIO_TIME_SHARE", 0.005)
    result = extract_keyframes(str(with_music), SPECS, ON, LOCAL)
    assert result.audio == "partial"
    assert result.audio_fingerprint is not None and 0 < result.audio_fingerprint.size * ITEM_S < 6
