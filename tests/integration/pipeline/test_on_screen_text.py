"""On-screen text end to end: the pipeline reads frames on the real tritonserver's `ocr`,
tags what is written, and applies text rules (a pattern and a word list) to the verdict."""

from __future__ import annotations

import json
from pathlib import Path

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
from tests.unit.triton_models.ocr_samples import scenes


def test_text_is_tagged_and_rules_name_themselves_not_the_text(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    frames = scenes()
    videos = {name: make_still_video(tmp_path / f"{name}.mp4", frames[name][0][::2, ::2])
              for name in ("caption", "subtitle", "serif")}
    words = tmp_path / "words.txt"
    words.write_text("# phrases that need a look\ntomorrow\nsee you later\n")
    settings = pipeline_settings(
        stack, topics, group=unique,
        pipeline={"models": ["nsfw_classifier", "ocr"]},
        signals={"text": {"rules": [
            {"name": "urls", "pattern": r"\b(?:https?://|www\.)\S+", "action": "review"},
            {"name": "phrases", "words": str(words), "action": "block"}]}})
    produce(settings, [(n, upload_event(n, v.as_uri())) for n, v in videos.items()])
    with running_pipeline(settings):
        verdicts = read_topic(settings, topics.verdicts, expect=3, timeout_s=300)
        tags = read_topic(settings, topics.tags, expect=3, timeout_s=60)
    by_video = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}
    text = {json.loads(m.value())["video_id"]: json.loads(m.value())["text"] for m in tags}
    assert by_video["caption"]["verdict"] == "review"
    (reason,) = by_video["caption"]["reasons"]
    assert reason["category"] == "text_rule" and reason["rule"] == "urls"
    assert reason["at_s"] == 0.0 and "example" not in json.dumps(reason), "no raw text"
    assert by_video["subtitle"]["verdict"] == "block"
    assert [r["rule"] for r in by_video["subtitle"]["reasons"]] == ["phrases"]
    assert by_video["serif"]["verdict"] == "allow"
    assert [t["text"] for t in text["caption"]] == ["Visit www.example.com today"]
    assert text["caption"][0]["coverage"] == 1.0 and text["caption"][0]["score"] > 0.9
    assert [t["text"] for t in text["serif"]] == ["Breaking News"]
    assert by_video["caption"]["models"] == {"nsfw_classifier": "1", "ocr": "1"}
