"""Events in, verdicts and tags out, through the real broker, workers and tritonserver."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from consumer.settings import KafkaTopics
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    committed_vs_end,
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
    uploads,
)


def test_200_events_give_200_verdicts_and_tags_and_commit_to_the_end(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str
) -> None:
    settings = pipeline_settings(stack, topics, group=unique)
    produce(settings, uploads(sample_videos, 200))
    with running_pipeline(settings):
        verdicts = read_topic(settings, topics.verdicts, expect=200, timeout_s=300)
        tags = read_topic(settings, topics.tags, expect=200, timeout_s=60)
    assert len(verdicts) == 200
    assert len(tags) == 200
    records = [json.loads(m.value()) for m in verdicts]
    assert {r["video_id"] for r in records} == {f"v{i}" for i in range(200)}
    assert all(m.key().decode() == json.loads(m.value())["video_id"] for m in verdicts)
    sources = {(r["source"]["partition"], r["source"]["offset"]) for r in records}
    assert len(sources) == 200, "every verdict traces to its own source offset"
    assert {r["source"]["topic"] for r in records} == {topics.input}
    assert len({p for p, _ in sources}) == 6
    for record in records:
        assert record["verdict"] in ("allow", "review", "block")
        assert record["keyframes_analyzed"] == 2
        assert record["models"] == {"nsfw_classifier": "1"}
        assert len(record["verdict_id"]) == 32
    tag_records = [json.loads(m.value()) for m in tags]
    assert {t["verdict_id"] for t in tag_records} == {r["verdict_id"] for r in records}
    assert all(t["technical"]["width"] == 160 for t in tag_records)
    assert read_topic(settings, topics.dlq, expect=0, timeout_s=2) == []
    committed, ends = committed_vs_end(settings, unique)
    assert committed == ends


def test_poison_events_go_to_the_dlq_untouched_and_named_videos_get_a_verdict(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str
) -> None:
    settings = pipeline_settings(stack, topics, group=unique,
                                 pipeline={"max_event_bytes": 4096})
    poison = {
        "not-json": b"\x00\x01 this is not json",
        "missing-fields": json.dumps({"uri": sample_videos[0].as_uri()}).encode(),
        "oversize": upload_event("big", sample_videos[0].as_uri())[:-1] +
        b', "pad": "' + b"x" * 5000 + b'"}',
        "bad-scheme": upload_event("ftp", "ftp://example.com/v.mp4"),
    }
    records: list[tuple[str | None, bytes]] = []
    for i in range(24):
        records.append((f"ok{i}", upload_event(f"ok{i}", sample_videos[i % 3].as_uri())))
        if i % 6 == 0:
            name = list(poison)[i // 6]
            records.append((name, poison[name]))
    produce(settings, records)
    with running_pipeline(settings):
        verdicts = read_topic(settings, topics.verdicts, expect=26, timeout_s=180)
        dlq = read_topic(settings, topics.dlq, expect=4, timeout_s=60)
    by_video = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}
    assert len(verdicts) == 26, "one verdict per event that names a video"
    assert sorted(by_video) == sorted([*(f"ok{i}" for i in range(24)), "big", "ftp"])
    for video, reason in (("big", "too_large"), ("ftp", "unsupported_scheme")):
        assert by_video[video]["verdict"] == "unprocessable"
        assert by_video[video]["reasons"][0]["category"] == reason
    by_key = {m.key().decode() if m.key() else None: m for m in dlq}
    assert len(dlq) == 4
    reasons = Counter()
    for name, value in poison.items():
        original = [m for m in dlq if m.value() == value]
        assert len(original) == 1, f"{name} not in the DLQ byte for byte"
        headers = dict(original[0].headers())
        assert headers["vmc.stage"] == b"parse"
        assert headers["vmc.error.class"] == b"InvalidEvent"
        reasons[headers["vmc.error.reason"].decode()] += 1
        assert int(headers["vmc.source.offset"]) >= 0
    assert reasons == {"not_json": 1, "invalid": 1, "too_large": 1, "unsupported_scheme": 1}
    assert by_key is not None
    committed, ends = committed_vs_end(settings, unique)
    assert committed == ends


def test_a_one_keyframe_upload_is_covered_and_one_cut_short_is_sent_to_review(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    from devstack.samples import make_video

    one_keyframe = make_video(tmp_path / "one.mp4", seconds=20, fps=10, gop=1000)
    settings = pipeline_settings(stack, topics, group=unique,
                                 sampling={"max_keyframes": 4, "min_interval_s": 1.0})
    produce(settings, [("whole", upload_event("whole", one_keyframe.as_uri()))])
    with running_pipeline(settings):
        verdicts = read_topic(settings, topics.verdicts, expect=1, timeout_s=120)
        tags = read_topic(settings, topics.tags, expect=1, timeout_s=60)
    record = json.loads(verdicts[0].value())
    coverage = record["coverage"]
    assert coverage["complete"] is True and coverage["stopped_by"] is None
    assert record["keyframes_analyzed"] == 4 and coverage["analysed_s"][-1] > 15.0
    assert coverage["largest_gap_s"] <= coverage["max_gap_s"] == 7.5
    assert record["verdict"] != "unprocessable"
    assert json.loads(tags[0].value())["coverage"] == coverage

    short = pipeline_settings(stack, topics, group=f"{unique}-budget",
                              sampling={"max_keyframes": 4, "min_interval_s": 1.0},
                              decode={"max_decoded_frames": 20})
    with running_pipeline(short):
        verdicts = read_topic(short, topics.verdicts, expect=2, timeout_s=120)
    budget = json.loads(verdicts[-1].value())
    assert budget["run_id"] == "live" and budget["coverage"]["complete"] is False
    assert budget["coverage"]["stopped_by"] == "decode_budget"
    assert budget["verdict"] in ("review", "block")
    assert "incomplete_coverage" in [r["category"] for r in budget["reasons"]]
