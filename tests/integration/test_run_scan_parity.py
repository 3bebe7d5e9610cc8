"""`vmc run` and `vmc scan --triton` judge alike: the same videos, with every signal on (model
scores, known content, on-screen text, music), through the real pipeline (Kafka, Triton) and
through scan on the same Triton, give the same verdicts, reasons and tags records, ids and
timings aside. Both are assembled by consumer/assembly.py and built by one Judge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from consumer.settings import KafkaTopics
from devstack.demo import _demo_settings, sample_videos
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    settings_env,
    upload_event,
)

# What differs by nature between a live run and a scan: ids, sources, clocks.
VARIES = {"verdict_id", "source", "run_id", "processed_at", "latency_s", "uri", "tags"}


def _rounded(value: Any) -> Any:
    """Scores to 4 places: a batch of several videos and a batch of one may differ in the
    last bits of onnxruntime's float arithmetic."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    return _rounded({k: v for k, v in record.items() if k not in VARIES})


def test_run_and_scan_give_the_same_verdicts_reasons_and_tags(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    videos = sample_videos(tmp_path / "samples")
    base = pipeline_settings(stack, topics, group=unique)
    settings = _demo_settings(base, stack.addresses, topics, unique, tmp_path / "samples")
    produce(settings, [(name, upload_event(name, path.as_uri()))
                       for name, path in videos.items()])
    with running_pipeline(settings):
        verdicts = read_topic(settings, topics.verdicts, expect=len(videos), timeout_s=300)
        tags = read_topic(settings, topics.tags, expect=len(videos) - 1, timeout_s=60)
    live = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}
    live_tags = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in tags}
    assert sorted(live) == sorted(videos)

    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env.update(settings_env(settings))
    scanned = subprocess.run(
        [sys.executable, "-m", "consumer", "--log-format", "text", "scan", "--tags",
         "--triton", stack.addresses.triton_grpc, *(str(p) for p in videos.values())],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert scanned.returncode == 0, scanned.stderr[-3000:]
    by_scan = {r["video_id"]: r for r in map(json.loads, scanned.stdout.splitlines())}
    assert sorted(by_scan) == sorted(live)

    categories = set()
    for name in videos:
        assert _comparable(by_scan[name]) == _comparable(live[name]), name
        categories |= {r["category"] for r in live[name]["reasons"]}
        if name in live_tags:
            assert _comparable(by_scan[name]["tags"]) == _comparable(live_tags[name]), name
    # Every signal had its say somewhere in this set.
    assert {"known_content_match", "text_rule", "unsupported_container"} <= categories
    assert any(live_tags[n]["music"] for n in live_tags), "the music signal tagged a track"
    assert any(live_tags[n]["text"] for n in live_tags), "the text signal tagged a string"
