"""A video whose frames cost the OCR reader more than the timeout, on the real tritonserver:
it gets its verdict (`review`, model_budget_exceeded, with a DLQ copy), the ordinary videos
produced around it get theirs, nothing is left queued in Triton, and no partition stalls."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import numpy as np

from consumer.settings import KafkaTopics
from devstack.samples import make_still_video
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
    wait_committed_to_end,
)
from tests.unit.triton_models.ocr_samples import scenes, word_grid

TIMEOUT_S = 6.0


def _pending_ocr_requests(metrics_url: str) -> float:
    """Triton's own count of `ocr` requests queued or running."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("nv_inference_pending_request_count") and 'model="ocr"' in line]
    assert values, "Triton exports nv_inference_pending_request_count for ocr"
    return sum(values)


def test_a_frame_full_of_text_costs_its_own_video_a_review_not_everyones_verdicts(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    # 16 frames printed full of words: even capped (~1-3 s a frame on 2 cores) the reader
    # needs far more than the timeout for them, alone or not; the others have 2 frames each.
    grid = make_still_video(tmp_path / "grid.mp4", word_grid(), seconds=16.0, gop=10)
    plain = scenes()["serif"][0][::2, ::2]
    videos = {"before": make_still_video(tmp_path / "before.mp4", plain),
              "grid": grid,
              "after": make_still_video(tmp_path / "after.mp4", np.ascontiguousarray(
                  plain[:, ::-1]))}
    settings = pipeline_settings(
        stack, topics, group=unique, pipeline={"models": ["nsfw_classifier", "ocr"]},
        sampling={"max_keyframes": 16},
        triton={"timeout_s": TIMEOUT_S, "video_attempts": 2})
    started = time.time()
    produce(settings, [(n, upload_event(n, v.as_uri())) for n, v in videos.items()])
    arrived: dict[str, float] = {}
    with running_pipeline(settings):
        verdicts = read_topic(settings, topics.verdicts, expect=3, timeout_s=300)
        arrived = {json.loads(m.value())["video_id"]: m.timestamp()[1] / 1000 for m in verdicts}
        wait_committed_to_end(settings, unique, timeout_s=60)
        letters = read_topic(settings, topics.dlq, expect=1, timeout_s=30)
    by_video = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}
    assert sorted(by_video) == ["after", "before", "grid"], "one verdict each"
    assert len(verdicts) == 3
    grid_verdict = by_video["grid"]
    assert grid_verdict["verdict"] == "review"
    budget = [r for r in grid_verdict["reasons"] if r["category"] == "model_budget_exceeded"]
    assert len(budget) == 1 and budget[0]["detail"].startswith("ocr: no answer within")
    for name in ("before", "after"):
        assert by_video[name]["verdict"] == "allow", by_video[name]
    assert [dict(m.headers())["vmc.error.reason"] for m in letters] == [b"model_budget_exceeded"]
    assert letters[0].key() == b"grid"
    # What Triton was asked to do for nobody is gone once the consumer stopped.
    deadline = time.monotonic() + 30
    while _pending_ocr_requests(stack.addresses.triton_metrics_url) and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    assert _pending_ocr_requests(stack.addresses.triton_metrics_url) == 0
    after = {name: round(at - started, 1) for name, at in sorted(arrived.items())}
    print(f"\n[model budget] s from produce to verdict: {after}, timeout_s={TIMEOUT_S}")
