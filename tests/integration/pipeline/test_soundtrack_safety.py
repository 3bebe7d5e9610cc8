"""Soundtracks fail closed, end to end through the real broker and tritonserver (issue 24):
a `block` catalogue built here; music in a second audio stream behind a near-silent first one
is blocked and its tag names the stream (finding 3); the blocked track beyond the soundtrack
cap, and a soundtrack that does not decode, are `review` with `incomplete_audio` (finding 4);
a video without audio is `none`, not incomplete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

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

TRACK_SEED = 17
CAP_S = 60.0


def _by_video(messages: list[Any]) -> dict[str, dict[str, Any]]:
    return {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in messages}


def _reasons(verdict: dict[str, Any], category: str) -> list[dict[str, Any]]:
    return [r for r in verdict["reasons"] if r["category"] == category]


def _uploads(folder: Path) -> dict[str, Path]:
    track = sounds.track(TRACK_SEED, 45.0)
    excerpt = track[int(5 * sounds.RATE):int(40 * sounds.RATE)]  # 35 s from its 5th second
    clip = make_video(folder / "clip.mp4", seconds=5, width=64, height=48)
    near_silent = sounds.white(1, 40, 0.001)
    late = sounds.place(sounds.white(2, 120, 0.05), excerpt, 70.0, 10.0)  # at 70-105 s
    return {
        "second-stream": sounds.with_soundtracks(clip, [near_silent, excerpt], folder / "a.mp4",
                                                 default=0),
        "beyond-the-cap": sounds.with_soundtracks(clip, [late], folder / "b.mp4"),
        "undecodable": sounds.with_soundtracks(clip, [None], folder / "c.mp4"),
        "no-audio": clip,
    }


def test_every_stream_is_heard_and_what_is_not_heard_in_full_is_review(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    references = tmp_path / "references"
    references.mkdir()
    sounds.write(references / f"blocked-{TRACK_SEED}.wav", sounds.track(TRACK_SEED, 45.0))
    sounds.write(references / "white-noise.wav", sounds.white(3, 60, 0.2))  # skipped
    tracks = build_catalogue(references)
    assert [t.track_id for t in tracks] == [f"blocked-{TRACK_SEED}"]
    save_catalogue(tracks, tmp_path / "blocked.vmccat")
    videos = _uploads(tmp_path)
    settings = pipeline_settings(
        stack, topics, group=unique, signals={"music": {
            "max_soundtrack_s": CAP_S,
            "catalogues": [{"name": "blocked", "path": str(tmp_path / "blocked.vmccat"),
                            "action": "block"}]}})
    produce(settings, [(video_id, upload_event(video_id, path.as_uri()))
                       for video_id, path in videos.items()])
    with running_pipeline(settings):
        verdicts = _by_video(read_topic(settings, topics.verdicts, expect=len(videos),
                                        timeout_s=180))
        tags = _by_video(read_topic(settings, topics.tags, expect=len(videos), timeout_s=60))
    assert set(verdicts) == set(videos)
    audio = {video: tags[video]["technical"]["audio"] for video in videos}
    assert audio == {"second-stream": "ok", "beyond-the-cap": "partial",
                     "undecodable": "undecodable", "no-audio": "none"}

    # Finding 3: the track in stream 2, behind a near-silent default stream 1.
    second = verdicts["second-stream"]
    assert second["verdict"] == "block"
    (reason,) = _reasons(second, "music_match")
    assert (reason["rule"], reason["detail"]) == ("blocked", f"blocked-{TRACK_SEED}")
    (heard,) = tags["second-stream"]["music"]
    assert heard["stream"] == 2 and heard["track_id"] == f"blocked-{TRACK_SEED}"
    assert np.isclose(heard["reference_offset_s"], 5.0, atol=1.5)
    assert not _reasons(second, "incomplete_audio")

    # Finding 4: the track at 70-105 s of a soundtrack heard up to 60 s.
    late = verdicts["beyond-the-cap"]
    assert late["verdict"] == "review"
    (reason,) = _reasons(late, "incomplete_audio")
    assert "max_soundtrack_s=60" in reason["detail"] and reason["action"] == "review"
    assert tags["beyond-the-cap"]["music"] == [] and not _reasons(late, "music_match")

    # A soundtrack that does not decode cannot clear the upload either.
    broken = verdicts["undecodable"]
    assert broken["verdict"] == "review"
    (reason,) = _reasons(broken, "incomplete_audio")
    assert reason["detail"].startswith("soundtrack undecodable")

    # No audio stream: nothing to hear, nothing incomplete.
    assert not _reasons(verdicts["no-audio"], "incomplete_audio")
