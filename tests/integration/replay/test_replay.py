"""`vmc replay` and `vmc offsets` against the real broker and tritonserver."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from consumer.logs import kafka_logged
from consumer.settings import KafkaTopics, Settings
from devstack.kafka import create_topics
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    VmcProcess,
    committed_vs_end,
    pipeline_settings,
    read_topic,
    running_pipeline,
    settings_env,
    upload_event,
    verdict_ids_by_video,
    wait_for_records,
)

# Recent, never a fixed date: events stamped older than the broker's retention (7 days by
# default) are deleted by its next retention check, in the middle of a test.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
N = 60


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _produce_timed(settings: Settings, videos: list[Path]) -> dict[int, tuple[int, int]]:
    """Event i is stamped T0 + i seconds; returns i -> (partition, offset)."""
    placed: dict[int, tuple[int, int]] = {}
    producer = Producer(kafka_logged({**settings.kafka.librdkafka_config(),
                                      "enable.idempotence": True}))
    for i in range(N):
        def delivered(err: Any, msg: Any, i: int = i) -> None:
            assert err is None, err
            placed[i] = (msg.partition(), msg.offset())

        stamp = int((T0 + timedelta(seconds=i)).timestamp() * 1000)
        producer.produce(settings.kafka.topics.input, key=f"v{i}",
                         value=upload_event(f"v{i}", videos[i % len(videos)].as_uri()),
                         timestamp=stamp, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert len(placed) == N
    return placed


def _shadow_topics(settings: Settings, name: str) -> tuple[str, str]:
    verdicts, tags = f"{name}.shadow-verdicts", f"{name}.shadow-tags"
    create_topics(settings.kafka.librdkafka_config(), {verdicts: 3, tags: 3})
    return verdicts, tags


def _vmc(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env.update(settings_env(settings))
    env["VMC_LOG__FORMAT"] = "text"
    return subprocess.run([sys.executable, "-m", "consumer", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False)


def test_replay_reprocesses_exactly_the_window_and_leaves_the_live_group_alone(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
) -> None:
    settings = pipeline_settings(stack, topics, group=unique)
    placed = _produce_timed(settings, sample_videos)
    with running_pipeline(settings):
        wait_for_records(settings, topics.verdicts, N, timeout_s=240)
    live_before, ends = committed_vs_end(settings, unique)
    assert live_before == ends

    shadow_verdicts, shadow_tags = _shadow_topics(settings, unique)
    window = (T0 + timedelta(seconds=20), T0 + timedelta(seconds=40))
    dry = _vmc(settings, "replay", "--from", _iso(window[0]), "--to", _iso(window[1]),
               "--run-id", "model-v2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    expected = {placed[i] for i in range(20, 40)}
    per_partition: dict[int, int] = defaultdict(int)
    for partition, _ in expected:
        per_partition[partition] += 1
    rows = {int(line.split()[0]): int(line.split()[3]) for line in dry.stdout.splitlines()
            if line.split() and line.split()[0].isdigit()}
    assert {p: c for p, c in rows.items() if c} == dict(per_partition)
    assert f"total {'':>10} {'':>10} {20:>8}".split() == next(
        line for line in dry.stdout.splitlines() if line.strip().startswith("total")).split()

    replay = _vmc(settings, "replay", "--from", _iso(window[0]), "--to", _iso(window[1]),
                  "--run-id", "model-v2", "--verdicts-topic", shadow_verdicts,
                  "--tags-topic", shadow_tags)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert "20/20 events" in replay.stderr
    outputs = read_topic(settings, shadow_verdicts, expect=20, settle_s=2)
    sources = {(json.loads(m.value())["source"]["partition"],
                json.loads(m.value())["source"]["offset"]) for m in outputs}
    assert sources == expected, "exactly the events stamped inside the window"
    assert len(outputs) == 20
    for msg in outputs:
        assert json.loads(msg.value())["run_id"] == "model-v2"
        assert dict(msg.headers())["vmc.run_id"] == b"model-v2"
    assert len(read_topic(settings, shadow_tags, expect=20, settle_s=1)) == 20
    assert committed_vs_end(settings, unique)[0] == live_before, "live offsets untouched"


def test_an_interrupted_replay_resumes_with_the_same_run_id(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path,
) -> None:
    settings = pipeline_settings(stack, topics, group=unique)
    placed = _produce_timed(settings, sample_videos)
    args = ("replay", "--from", _iso(T0), "--run-id", "again", "--rate", "8")
    first = VmcProcess(settings, tmp_path / "first.log", *args)
    try:
        wait_for_records(settings, topics.verdicts, 10, timeout_s=120)
        first.signal(signal.SIGTERM)
        assert first.wait(90) == 0, (tmp_path / "first.log").read_text()[-3000:]
    finally:
        first.stop()
    interrupted = len(read_topic(settings, topics.verdicts, expect=0, timeout_s=3))
    assert interrupted < N, "the first run must really be interrupted"
    second = _vmc(settings, *args[:-2])
    assert second.returncode == 0, second.stderr[-3000:]
    assert "(resumed)" in second.stdout
    outputs = read_topic(settings, topics.verdicts, expect=N, settle_s=2)
    ids = verdict_ids_by_video(outputs)
    for msg in outputs:
        record = json.loads(msg.value())
        assert (record["source"]["partition"], record["source"]["offset"]) in placed.values()
    assert set(ids) == {f"v{i}" for i in range(N)}, "each event of the window has a result"
    assert all(len(v) == 1 for v in ids.values()), "duplicates only with identical verdict_id"
    assert len(outputs) - N <= 32, "at most the in-flight window is redone"


def test_offsets_show_and_a_reset_refused_while_the_group_is_active(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
) -> None:
    settings = pipeline_settings(stack, topics, group=unique)
    _produce_timed(settings, sample_videos)
    with running_pipeline(settings):
        wait_for_records(settings, topics.verdicts, N, timeout_s=240)
        refused = _vmc(settings, "offsets", "reset", "--to-datetime", _iso(T0), "--yes")
        assert refused.returncode == 1
        assert "active member" in refused.stderr
    shown = _vmc(settings, "offsets", "show")
    assert shown.returncode == 0, shown.stderr
    total = [line for line in shown.stdout.splitlines() if line.strip().startswith("total")]
    assert total[0].split()[-1] == "0", shown.stdout
    cutoff = T0 + timedelta(seconds=30)
    reset = _vmc(settings, "offsets", "reset", "--to-datetime", _iso(cutoff), "--yes")
    assert reset.returncode == 0, reset.stderr
    shown = _vmc(settings, "offsets", "show")
    lag = int(next(line for line in shown.stdout.splitlines()
               if line.strip().startswith("total")).split()[-1])
    assert lag == 30, "events stamped from the cutoff on are to be consumed again"
    without_yes = subprocess.run(
        [sys.executable, "-m", "consumer", "offsets", "reset", "--to-datetime", _iso(T0)],
        env={**{k: v for k, v in __import__("os").environ.items() if not k.startswith("VMC_")},
             **settings_env(settings)}, text=True, capture_output=True, stdin=subprocess.DEVNULL,
        timeout=120, check=False)
    assert without_yes.returncode == 1 and "--yes" in without_yes.stderr
    assert pytest is not None
