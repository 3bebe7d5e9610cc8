"""Signals record and backtest end to end (issue 27), real broker and tritonserver: the
pipeline publishes every verdict's evidence on the signals topic; `vmc backtest` with a draft
lowering the review threshold reports exactly the videos whose verdicts a `vmc replay` of the
same events under that draft changes, and `--publish` writes the re-decided verdicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
from skimage import data

from consumer.settings import KafkaTopics, Settings
from devstack.kafka import create_topics
from devstack.samples import make_still_video
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    settings_env,
    upload_event,
)

IMAGES = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea,
          "rocket": data.rocket, "hubble": data.hubble_deep_field, "retina": data.retina}


def _still(path: Path, image: np.ndarray) -> Path:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[..., :3]), format="rgb24")
    return make_still_video(path, frame.reformat(320, 240, "rgb24").to_ndarray())


def _vmc(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env.update(settings_env(settings))
    env["VMC_LOG__FORMAT"] = "text"
    return subprocess.run([sys.executable, "-m", "consumer", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False)


def _by_video(messages: list[object]) -> dict[str, dict[str, object]]:
    return {json.loads(m.value())["video_id"]: json.loads(m.value())  # type: ignore[attr-defined]
            for m in messages}


def _threshold_between(peaks: dict[str, float]) -> float:
    """A 4-decimal review threshold in the widest gap between the videos' nsfw peaks."""
    ordered = sorted(peaks.values())
    gap, i = max((ordered[i] - ordered[i - 1], i) for i in range(1, len(ordered)))
    assert gap > 2e-4, f"the samples' scores are too close to split: {ordered}"
    return round((ordered[i] + ordered[i - 1]) / 2, 4)


def test_a_backtest_reports_exactly_the_verdicts_a_replay_under_the_draft_changes(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    videos = {name: _still(tmp_path / f"{name}.mp4", load()) for name, load in IMAGES.items()}
    settings = pipeline_settings(stack, topics, group=unique)
    produce(settings, [(name, upload_event(name, path.as_uri()))
                       for name, path in videos.items()])
    with running_pipeline(settings):
        live = _by_video(read_topic(settings, topics.verdicts, expect=len(videos)))
        recorded = _by_video(read_topic(settings, topics.signals, expect=len(videos)))
    assert set(recorded) == set(videos)
    for video, record in recorded.items():
        assert record["schema"] == "vmc.signals/1"
        assert record["verdict_id"] == live[video]["verdict_id"]
        assert record["reasons"] == live[video]["reasons"]
        rows = record["model_scores"]["nsfw_classifier"]["rows"]  # type: ignore[index]
        assert len(rows) == live[video]["keyframes_analyzed"]
        assert len(record["frames"]["pdq"]) == len(rows)  # type: ignore[index]

    peaks = {video: float(v["scores"]["nsfw"]) for video, v in live.items()}  # type: ignore[index]
    threshold = _threshold_between(peaks)
    draft = tmp_path / "draft.toml"
    draft.write_text(f'[policy]\nversion = "draft-{unique}"\n\n'
                     f"[signals.scores.categories.nsfw]\nreview = {threshold}\n")
    rescore = f"{unique}.rescore"
    create_topics(settings.kafka.librdkafka_config(), {rescore: 3})
    backtest = _vmc(settings, "backtest", "--policy", str(draft), "--json",
                    "--publish", rescore)
    assert backtest.returncode == 0, backtest.stderr[-3000:]
    report = json.loads(backtest.stdout)
    assert report["videos"] == len(videos) and report["skipped"] == {}
    expected = sorted(v for v, peak in peaks.items()
                      if live[v]["verdict"] == "allow" and peak >= threshold)
    assert expected and len(expected) < len(videos)
    assert report["changed"] == expected

    replayed_settings = pipeline_settings(
        stack, topics, group=unique, policy={"version": f"draft-{unique}"},
        signals={"scores": {"categories": {"nsfw": {"review": threshold, "block": 0.8}}}})
    shadow, shadow_tags = f"{unique}.shadow-verdicts", f"{unique}.shadow-tags"
    create_topics(settings.kafka.librdkafka_config(), {shadow: 3, shadow_tags: 3})
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    replay = _vmc(replayed_settings, "replay", "--from", since, "--run-id", "draft",
                  "--verdicts-topic", shadow, "--tags-topic", shadow_tags)
    assert replay.returncode == 0, replay.stderr[-3000:]
    replayed = _by_video(read_topic(settings, shadow, expect=len(videos)))
    changed_by_replay = sorted(v for v in videos if replayed[v]["verdict"] != live[v]["verdict"])
    assert report["changed"] == changed_by_replay

    published = _by_video(read_topic(settings, rescore, expect=len(videos)))
    assert set(published) == set(videos)
    for video, verdict in published.items():
        assert verdict["verdict"] == replayed[video]["verdict"]
        assert verdict["policy_version"] == f"draft-{unique}"
        assert verdict["run_id"] == "backtest"
        assert verdict["verdict_id"] != live[video]["verdict_id"]
        assert verdict["source"] == live[video]["source"]
