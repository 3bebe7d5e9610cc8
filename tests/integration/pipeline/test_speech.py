"""Speech in the soundtrack, end to end through the real broker and tritonserver (issue 28):
espeak-ng sentences (the committed fixture) give speech segments within 0.3 s of the truth and
kind `spoken`; a track of a `tag` catalogue, alone in the soundtrack, gives kind `music` (the
speech signal reads the music signal's matches); a video without audio is `silent`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consumer.settings import KafkaTopics
from consumer.signals.music.catalogue import build_catalogue, save_catalogue
from devstack.samples import make_video
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
)
from tests.unit.signals.music import sounds
from tests.unit.signals.speech import fixture

TRACK_SEED = 23
TOLERANCE_S = 0.3


def _by_video(messages: list[Any]) -> dict[str, dict[str, Any]]:
    return {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in messages}


def test_speech_segments_and_the_content_kind_reach_the_tags(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    references = tmp_path / "references"
    references.mkdir()
    track = sounds.track(TRACK_SEED, 30.0)
    sounds.write(references / f"song-{TRACK_SEED}.wav", track)
    save_catalogue(build_catalogue(references), tmp_path / "songs.vmccat")
    clip = make_video(tmp_path / "clip.mp4", seconds=5, width=64, height=48)
    spoken, truth = fixture.load()
    videos = {
        "spoken": sounds.with_soundtracks(clip, [spoken], tmp_path / "spoken.mp4"),
        "song": sounds.with_soundtracks(clip, [track], tmp_path / "song.mp4"),
        "no-audio": clip,
    }
    settings = pipeline_settings(stack, topics, group=unique, signals={
        "speech": {"enabled": True},
        "music": {"catalogues": [{"name": "songs", "path": str(tmp_path / "songs.vmccat")}]}})
    produce(settings, [(video_id, upload_event(video_id, path.as_uri()))
                       for video_id, path in videos.items()])
    with running_pipeline(settings):
        tags = _by_video(read_topic(settings, topics.tags, expect=len(videos), timeout_s=180))
    speech = {video: tags[video]["speech"] for video in videos}
    assert {video: s["kind"] for video, s in speech.items()} == {
        "spoken": "spoken", "song": "music", "no-audio": "silent"}

    segments = [(s["start_s"], s["end_s"]) for s in speech["spoken"]["segments"]]
    for start, end in truth:
        inside = [s for s in segments if s[1] > start - TOLERANCE_S and s[0] < end + TOLERANCE_S]
        assert inside, (start, end, segments)
        assert inside[0][0] == pytest.approx(start, abs=TOLERANCE_S)
        assert inside[-1][1] == pytest.approx(end, abs=TOLERANCE_S)
    assert all(any(a - TOLERANCE_S <= s0 and s1 <= b + TOLERANCE_S for a, b in truth)
               for s0, s1 in segments)
    assert 0.4 < speech["spoken"]["share"] < 0.8

    assert tags["song"]["music"] and speech["song"]["music_share"] > 0.5
    assert speech["song"]["segments"] == [] and speech["song"]["share"] < 0.1
