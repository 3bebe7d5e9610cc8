"""Known-content matching end to end: a hash list holding the PDQ of a photo blocks a video
made from that photo (cropped, resized, re-encoded), through the real broker and tritonserver;
an unrelated video is not matched, and its tags still carry its frames' hashes."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
from skimage import data

from consumer.media.frame_hash import pdq_hash
from consumer.settings import KafkaTopics
from devstack.samples import make_still_video
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return frame.reformat(width, height, "rgb24", interpolation="AREA").to_ndarray()


def test_a_video_of_a_listed_image_is_blocked_and_an_unrelated_one_is_not(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    photo = data.astronaut()  # 512x512
    listed = pdq_hash(photo)
    hash_list = tmp_path / "known.csv"
    hash_list.write_text("hash,label\n" + "0" * 64 + ",other\n" + f"{listed.pdq},case-17\n")
    cropped = photo[5:-5, 5:-5]  # 1% off each side, then 640x360 and H.264
    copy = make_still_video(tmp_path / "copy.mp4", _resize(cropped, 640, 360))
    other = make_still_video(tmp_path / "other.mp4", _resize(data.coffee(), 640, 360))
    settings = pipeline_settings(stack, topics, group=unique, signals={"known_content": {
        "lists": [{"name": "known-cases", "path": str(hash_list), "action": "block"}]}})
    produce(settings, [("copy", upload_event("copy", copy.as_uri())),
                       ("other", upload_event("other", other.as_uri()))])
    with running_pipeline(settings):
        verdicts = read_topic(settings, topics.verdicts, expect=2, timeout_s=120)
        tags = read_topic(settings, topics.tags, expect=2, timeout_s=60)
    by_video = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}
    assert by_video["copy"]["verdict"] == "block"
    (reason,) = [r for r in by_video["copy"]["reasons"]
                 if r["category"] == "known_content_match"]
    assert reason["hash_list"] == "known-cases" and reason["detail"] == "case-17"
    assert 0 <= reason["distance"] <= 31 and reason["at_s"] is not None
    assert by_video["other"]["verdict"] == "allow"
    assert not [r for r in by_video["other"]["reasons"]
                if r["category"] == "known_content_match"]
    frames = {json.loads(m.value())["video_id"]: json.loads(m.value())["frames"] for m in tags}
    assert all(len(f["pdq"]) == 64 and 0 <= f["quality"] <= 100
               for video in frames.values() for f in video)
    assert len(frames["other"]) == by_video["other"]["keyframes_analyzed"]
