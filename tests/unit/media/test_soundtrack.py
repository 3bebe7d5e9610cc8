"""The soundtrack in the decode worker: every audio stream fingerprinted when asked, and never
at the cost of the visual result (no audio, or audio that cannot be decoded, is stated, not
fatal); whatever a limit cuts is `partial`."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from consumer.media import extract
from consumer.media.chromaprint import ITEM_S
from consumer.media.extract import extract_keyframes
from consumer.media.resize import ResizeSpec
from consumer.media.soundtrack import audio_streams
from consumer.settings import SourceSettings
from devstack.samples import add_soundtrack, make_video, synth_track
from tests.unit.media.configs import decode_config
from tests.unit.media.videos import make_video as make_clip
from tests.unit.signals.music import sounds

SPECS = [ResizeSpec(32, "pad")]
LOCAL = SourceSettings(allowed_schemes=["file"])
ON = decode_config(soundtrack=True)


@pytest.fixture(scope="module")
def with_music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("soundtrack")
    clip = make_video(folder / "v.mp4", seconds=12, width=64, height=48)
    return add_soundtrack(clip, synth_track(seed=4, seconds=12), folder / "music.mp4")


def test_the_soundtrack_is_fingerprinted_over_its_length(with_music: Path) -> None:
    result = extract_keyframes(str(with_music), SPECS, ON, LOCAL)
    assert (result.audio, result.audio_why) == ("ok", None)
    (heard,) = result.audio_fingerprints
    assert heard.stream == 1  # the container's index: the video is stream 0
    assert abs(heard.items.size * ITEM_S - 12) < 3  # Chromaprint's edges
    assert result.audio_s > 0 and result.pts_s


def test_off_unless_asked(with_music: Path) -> None:
    result = extract_keyframes(str(with_music), SPECS, decode_config(), LOCAL)
    assert (result.audio, result.audio_fingerprints) == ("off", ())


def test_a_video_without_audio_says_so_and_keeps_its_frames(tmp_path: Path) -> None:
    result = extract_keyframes(str(make_clip(tmp_path / "silent.mp4")), SPECS, ON, LOCAL)
    assert (result.audio, result.audio_fingerprints) == ("none", ())
    assert result.pts_s


@pytest.fixture(scope="module")
def two_streams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A near-silent stream 1 flagged default, music in stream 2."""
    folder = tmp_path_factory.mktemp("streams")
    clip = make_video(folder / "v.mp4", seconds=12, width=64, height=48)
    return sounds.with_soundtracks(clip, [sounds.white(1, 12, 0.001), sounds.track(3, 12.0)],
                                   folder / "two.mp4", default=0)


def test_every_audio_stream_is_fingerprinted_on_its_own(two_streams: Path) -> None:
    result = extract_keyframes(str(two_streams), SPECS, ON, LOCAL)
    assert result.audio == "ok"
    quiet, music = result.audio_fingerprints
    assert (quiet.stream, music.stream) == (1, 2)
    assert abs(music.items.size * ITEM_S - 12) < 3 and quiet.items.size == music.items.size
    clip = make_video(two_streams.parent / "v1.mp4", seconds=12, width=64, height=48)
    only = sounds.with_soundtracks(clip, [sounds.track(3, 12.0)], two_streams.parent / "1.mp4")
    (alone,) = extract_keyframes(str(only), SPECS, ON, LOCAL).audio_fingerprints
    # the music of stream 2 is fingerprinted as it is alone, not mixed with stream 1
    agree = 1 - np.unpackbits((alone.items ^ music.items).view(np.uint8)).mean()
    assert agree > 0.85


def test_streams_beyond_the_cap_make_the_soundtrack_partial(two_streams: Path) -> None:
    capped = decode_config(soundtrack=True, max_audio_streams=1)
    result = extract_keyframes(str(two_streams), SPECS, capped, LOCAL)
    assert result.audio == "partial"
    assert [f.stream for f in result.audio_fingerprints] == [1]  # the default-flagged one
    assert result.audio_why is not None and "2 audio streams, 1 heard" in result.audio_why


def test_the_default_flagged_stream_is_heard_first(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "v.mp4", seconds=3, width=64, height=48)
    path = sounds.with_soundtracks(clip, [sounds.white(1, 3, 0.1)] * 3, tmp_path / "three.mp4",
                                   default=2)
    with av.open(str(path)) as container:
        assert [s.index for s in audio_streams(container)] == [3, 1, 2]


def test_a_soundtrack_longer_than_its_cap_is_partial_and_heard_up_to_it(
        with_music: Path) -> None:
    short = decode_config(soundtrack=True, max_soundtrack_s=6.0)
    result = extract_keyframes(str(with_music), SPECS, short, LOCAL)
    assert result.audio == "partial"
    assert result.audio_why is not None and "max_soundtrack_s=6" in result.audio_why
    (heard,) = result.audio_fingerprints
    assert 0 < heard.items.size * ITEM_S <= 6 - 2.5  # Chromaprint's first item needs ~2.6 s
    exact = decode_config(soundtrack=True, max_soundtrack_s=12.5)  # longer than the audio
    assert extract_keyframes(str(with_music), SPECS, exact, LOCAL).audio == "ok"


def test_a_stream_that_does_not_decode_is_stated_and_the_others_are_heard(
        tmp_path: Path) -> None:
    clip = make_video(tmp_path / "v.mp4", seconds=6, width=64, height=48)
    both = sounds.with_soundtracks(clip, [sounds.track(3, 6.0), None], tmp_path / "both.mp4")
    result = extract_keyframes(str(both), SPECS, ON, LOCAL)
    assert result.audio == "partial"
    assert [f.stream for f in result.audio_fingerprints] == [1]
    assert result.audio_why is not None and "stream 2: does not decode" in result.audio_why
    only = sounds.with_soundtracks(clip, [None], tmp_path / "only.mp4")
    result = extract_keyframes(str(only), SPECS, ON, LOCAL)
    assert (result.audio, result.audio_fingerprints) == ("undecodable", ())
    assert result.pts_s


def test_an_undecodable_soundtrack_keeps_the_visual_result(
        with_music: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(container: object, max_streams: int, max_s: float,
               deadline: float | None, **listening: object) -> None:
        raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(extract, "hear", broken)
    result = extract_keyframes(str(with_music), SPECS, ON, LOCAL)
    assert (result.audio, result.audio_fingerprints) == ("undecodable", ())
    expected = extract_keyframes(str(with_music), SPECS, decode_config(), LOCAL)
    assert result.pts_s == expected.pts_s
    assert np.array_equal(result.frames[SPECS[0]], expected.frames[SPECS[0]])


def test_a_soundtrack_cut_by_its_time_share_is_partial_and_still_fingerprinted(
        with_music: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "AUDIO_TIME_SHARE", 0.0)  # the deadline passes at once
    result = extract_keyframes(str(with_music), SPECS, ON, LOCAL)
    assert result.audio == "partial"
    assert result.audio_why is not None and "time share" in result.audio_why
    (heard,) = result.audio_fingerprints
    assert heard.items.size * ITEM_S < 6
