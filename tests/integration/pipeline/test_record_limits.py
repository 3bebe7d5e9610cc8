"""Records always fit (issue 24, finding 2), through the real broker and tritonserver.

A hash-list label of 1.2 MB used to make a verdict the broker refuses (MSG_SIZE_TOO_LARGE):
the consumer stopped on every restart with its offset behind the event. Now the verdict is cut
to fit and says so, the consumer goes on, and offsets move past it. A topic whose limit is
lower than the broker's default gets records cut to its own limit, and one whose limit could
not be read at start-up refuses the record once, which is then sent again, cut.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from skimage import data

from consumer.media.frame_hash import pdq_hash
from consumer.publishing.dlq import record_bytes, usable_bytes
from consumer.publishing.fitting import MAX_STRING_CHARS
from consumer.publishing.limits import MIN_RECORD_LIMIT_BYTES
from consumer.settings import KafkaTopics, Settings
from devstack.kafka import create_topics
from devstack.samples import make_still_video, make_video
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
    wait_committed_to_end,
)

MiB = 1024 * 1024


def _topics(unique: str, stack: RunningStack, configs: dict[str, dict[str, str]],
            **sections: dict[str, Any]) -> Settings:
    """One partition each (so offsets are predictable); `configs` by short name."""
    names = KafkaTopics(input=f"{unique}.in", verdicts=f"{unique}.verdicts",
                        tags=f"{unique}.tags", dlq=f"{unique}.dlq")
    settings = pipeline_settings(stack, names, group=unique, **sections)
    create_topics(settings.kafka.librdkafka_config(),
                  {name: 1 for name in names.model_dump().values()},
                  {getattr(names, short): config for short, config in configs.items()})
    return settings


def _listed_copy(tmp_path: Path, label: str) -> tuple[Path, dict[str, Any]]:
    """A video of a photo, and a hash list naming that photo with `label`."""
    photo = data.astronaut()
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[5:-5, 5:-5]), format="rgb24")
    copy = make_still_video(tmp_path / "copy.mp4",
                            frame.reformat(640, 360, "rgb24", interpolation="AREA").to_ndarray())
    hash_list = tmp_path / "known.csv"
    hash_list.write_text(f"hash,label\n{pdq_hash(photo).pdq},{label}\n")
    return copy, {"known_content": {"lists": [{"name": "known-cases", "path": str(hash_list),
                                               "action": "block"}]}}


def _run(settings: Settings, unique: str, events: list[tuple[str, bytes]]
         ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Run the consumer (it must exit 0) until every event is committed; the records of
    each video on the verdicts and tags topics, and the raw tags messages."""
    produce(settings, list(events))
    topics = settings.kafka.topics
    with running_pipeline(settings) as pipeline:
        verdicts = read_topic(settings, topics.verdicts, expect=len(events), timeout_s=180,
                              settle_s=2)
        tags = read_topic(settings, topics.tags, expect=len(events), timeout_s=60, settle_s=1)
        wait_committed_to_end(settings, unique, timeout_s=60)
        assert pipeline.inflight() == 0 and pipeline.delivery.fatal is None
    by_video = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}
    tags_by_video = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in tags}
    assert sorted(by_video) == sorted(tags_by_video) == sorted(key for key, _ in events), \
        "exactly one verdict and one tags record for each video"
    return by_video, tags_by_video, {m.key().decode(): m for m in tags}


def _known_reason(verdict: dict[str, Any]) -> dict[str, Any]:
    (reason,) = [r for r in verdict["reasons"] if r["category"] == "known_content_match"]
    return reason


def test_a_hash_list_label_of_1_2_mb_gives_a_cut_block_verdict_and_the_consumer_goes_on(
    stack: RunningStack, sample_videos: list[Path], unique: str, tmp_path: Path,
) -> None:
    label = "case-17 " + "x" * (1_200_000 - 8)
    copy, signals = _listed_copy(tmp_path, label)
    settings = _topics(unique, stack, {}, signals=signals)
    verdicts, tags, _ = _run(settings, unique, [
        ("copy", upload_event("copy", copy.as_uri())),
        ("after", upload_event("after", sample_videos[0].as_uri()))])
    copied = verdicts["copy"]
    assert copied["verdict"] == "block"
    reason = _known_reason(copied)
    assert reason["hash_list"] == "known-cases" and reason["action"] == "block"
    assert label.startswith(reason["detail"].removesuffix("…"))  # the loader may cut it first
    assert len(reason["detail"]) <= MAX_STRING_CHARS
    if len(reason["detail"]) == MAX_STRING_CHARS:  # not already cut by the hash-list loader
        assert copied["truncated"] == {"reasons.detail": 1}
    assert verdicts["after"]["verdict"] in ("allow", "review", "block")
    assert "truncated" not in verdicts["after"] and "truncated" not in tags["after"]
    assert sorted(v["source"]["offset"] for v in verdicts.values()) == [0, 1]
    assert tags["copy"]["verdict_id"] == copied["verdict_id"]


def test_a_tags_topic_with_a_low_limit_gets_its_frames_cut_to_fit_it(
    stack: RunningStack, unique: str, tmp_path: Path,
) -> None:
    limit = MIN_RECORD_LIMIT_BYTES
    many = make_video(tmp_path / "many.mp4", seconds=25, fps=10, gop=1)  # 250 keyframes
    settings = _topics(unique, stack, {"tags": {"max.message.bytes": str(limit)}},
                       sampling={"max_keyframes": 250, "min_interval_s": 0.05})
    verdicts, tags, raw = _run(settings, unique, [("many", upload_event("many", many.as_uri()))])
    sent = tags["many"]
    assert verdicts["many"]["keyframes_analyzed"] > 200
    assert 0 < len(sent["frames"]) < verdicts["many"]["keyframes_analyzed"]
    assert sent["truncated"]["frames"] == verdicts["many"]["keyframes_analyzed"] - len(
        sent["frames"])
    message = raw["many"]
    assert record_bytes(message.key(), message.value(), message.headers() or []) <= \
        usable_bytes(limit)
    assert "truncated" not in verdicts["many"]


def test_a_verdict_refused_by_a_topic_whose_limit_was_unknown_is_sent_again_cut(
    stack: RunningStack, sample_videos: list[Path], unique: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without DescribeConfigs the verdicts topic's limit is unknown (a broker default is
    assumed): the broker's refusal is the cue to cut the verdict, never to stop."""
    from consumer import wiring

    monkeypatch.setattr(wiring, "topic_max_message_bytes", lambda *a, **k: None)
    # Random CJK: 6 bytes a character in JSON, and it does not compress below the limit.
    codes = np.random.default_rng(7).integers(0x4E00, 0x9FFF, 600_000)
    copy, signals = _listed_copy(tmp_path, "".join(map(chr, codes)))
    settings = _topics(unique, stack, {"verdicts": {"max.message.bytes": "1500"}},
                       signals=signals)
    verdicts, _, _ = _run(settings, unique, [
        ("copy", upload_event("copy", copy.as_uri())),
        ("after", upload_event("after", sample_videos[1].as_uri()))])
    copied = verdicts["copy"]
    assert copied["verdict"] == "block"
    reason = _known_reason(copied)
    assert reason["action"] == "block" and "detail" not in reason
    assert copied["truncated"]["reasons.detail"] == 1
    assert verdicts["after"]["verdict"] in ("allow", "review", "block")
