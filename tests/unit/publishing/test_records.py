from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from consumer.policy.decide import Decision, Reason, unprocessable
from consumer.policy.tagging import black_keyframes, is_static, label_tags
from consumer.publishing.records import (
    SourceRef,
    encode,
    tags_record,
    verdict_id,
    verdict_record,
)

SRC = SourceRef("video.uploads", 3, 1234)
MODELS = {"nsfw_detector": "1"}
NOW = datetime(2026, 11, 22, 10, 0, 2, tzinfo=UTC)


def test_verdict_id_is_stable_and_sensitive_to_each_input() -> None:
    base = verdict_id("v1", SRC, MODELS, "p1", "live")
    assert base == verdict_id("v1", SRC, dict(MODELS), "p1", "live")
    variants = {
        verdict_id("v2", SRC, MODELS, "p1", "live"),
        verdict_id("v1", SourceRef("video.uploads", 3, 1235), MODELS, "p1", "live"),
        verdict_id("v1", SRC, {"nsfw_detector": "2"}, "p1", "live"),
        verdict_id("v1", SRC, MODELS, "p2", "live"),
        verdict_id("v1", SRC, MODELS, "p1", "replay-7"),
    }
    assert base not in variants and len(variants) == 5


def test_verdict_record_follows_the_contract() -> None:
    decision = Decision("block", [Reason("nudity", 0.91, 0.8, 12.0, "block")],
                        {"nudity": 0.91})
    record = verdict_record(video_id="v1", decision=decision, source=SRC, models=MODELS,
                            policy_version="p1", run_id="live", keyframes_analyzed=16,
                            duration_s=63.2, processed_at=NOW, latency_s=2.1234)
    assert record["reasons"] == [{"category": "nudity", "score": 0.91, "threshold": 0.8,
                                  "at_s": 12.0, "action": "block"}]
    assert record["source"] == {"topic": "video.uploads", "partition": 3, "offset": 1234}
    assert record["processed_at"] == "2026-11-22T10:00:02Z"
    assert record["latency_s"] == 2.123
    assert json.loads(encode(record)) == record


def test_unprocessable_reason_carries_the_detail() -> None:
    record = verdict_record(video_id="v1", decision=unprocessable("too_large", "3 GB > 2 GB"),
                            source=SRC, models=MODELS, policy_version="p1", run_id="live",
                            keyframes_analyzed=0, duration_s=None, processed_at=NOW,
                            latency_s=None)
    assert record["verdict"] == "unprocessable"
    assert record["reasons"][0]["category"] == "too_large"
    assert record["reasons"][0]["detail"] == "3 GB > 2 GB"


def test_label_tags_report_coverage_and_first_last_times() -> None:
    scores = np.array([[0.9, 0.1], [0.2, 0.1], [0.8, 0.4]], np.float32)
    tags = label_tags("m", scores, ("FACE", "FEET"), [0.0, 2.0, 4.0], min_score=0.3)
    assert [(t.label, t.coverage, t.first_s, t.last_s) for t in tags] == [
        ("FACE", round(2 / 3, 6), 0.0, 4.0), ("FEET", round(1 / 3, 6), 4.0, 4.0)]
    record = tags_record(video_id="v", verdict_id_="x", fields={"labels": [vars(t) for t in tags]},
                         technical={"fps": 30}, source=SRC, run_id="live", processed_at=NOW)
    assert record["labels"][0]["model"] == "m"


def test_black_and_static_keyframes_are_detected() -> None:
    black = np.zeros((2, 8, 8, 3), np.uint8)
    bright = np.full((1, 8, 8, 3), 200, np.uint8)
    frames = np.concatenate([black, bright])
    assert black_keyframes(frames, [0.0, 1.0, 2.0]) == [0.0, 1.0]
    assert is_static(np.repeat(bright, 3, axis=0))
    noisy = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    assert not is_static(noisy)
    assert not is_static(bright)
