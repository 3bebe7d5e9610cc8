"""Kill -9, SIGTERM and restarts of a real `vmc run` process: nothing lost, duplicates only
where the delivery semantics allow them, and then with identical verdict ids."""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from consumer.settings import KafkaTopics
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    VmcProcess,
    committed_vs_end,
    drip_server,
    pipeline_settings,
    produce,
    read_topic,
    upload_event,
    uploads,
    verdict_ids_by_video,
    wait_committed_to_end,
    wait_for_records,
)


def test_sigterm_drains_exits_0_and_a_restart_duplicates_nothing(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path,
) -> None:
    with drip_server(sample_videos[0].read_bytes(), seconds=10) as slow_url:
        settings = pipeline_settings(
            stack, topics, group=unique,
            source={"allowed_schemes": ["file", "http"], "allowed_networks": ["127.0.0.0/8"],
                    "read_timeout_s": 30})
        first_wave = [("slow", upload_event("slow", slow_url)), *uploads(sample_videos, 20)]
        produce(settings, first_wave)
        first = VmcProcess(settings, tmp_path / "first.log")
        try:
            wait_for_records(settings, topics.verdicts, 5, timeout_s=120)
            signalled_at = datetime.now(UTC)
            first.signal(signal.SIGTERM)
            assert first.wait(90) == 0, (tmp_path / "first.log").read_text()[-3000:]
        finally:
            first.stop()
    drained = [json.loads(m.value()) for m in
               read_topic(settings, topics.verdicts, expect=len(first_wave), timeout_s=10)]
    slow = [r for r in drained if r["video_id"] == "slow"]
    assert slow, "the video in flight at SIGTERM was drained, not dropped"
    assert datetime.fromisoformat(slow[0]["processed_at"]) > signalled_at
    committed, _ = committed_vs_end(settings, unique)
    assert sum(committed.values()) == len(drained), "drained work is exactly what was committed"

    second_wave = [(f"w{i}", upload_event(f"w{i}", sample_videos[i % 3].as_uri()))
                   for i in range(20)]
    produce(settings, second_wave)
    second = VmcProcess(settings, tmp_path / "second.log")
    try:
        wait_for_records(settings, topics.verdicts, len(first_wave) + len(second_wave),
                         timeout_s=240)
    finally:
        second.signal(signal.SIGTERM)
        assert second.wait(90) == 0, (tmp_path / "second.log").read_text()[-3000:]
    everything = read_topic(settings, topics.verdicts, expect=41, settle_s=3)
    by_video = verdict_ids_by_video(everything)
    assert len(by_video) == len(first_wave) + len(second_wave)
    assert len(everything) == len(by_video), "a restart after a drain produces no duplicate"


def test_kill_9_then_restart_loses_nothing_and_duplicates_share_verdict_ids(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path,
) -> None:
    settings = pipeline_settings(stack, topics, group=unique)
    n = 60
    produce(settings, uploads(sample_videos, n))
    first = VmcProcess(settings, tmp_path / "first.log")
    try:
        wait_for_records(settings, topics.verdicts, 10, timeout_s=120)
    finally:
        first.signal(signal.SIGKILL)
        first.stop()
    second = VmcProcess(settings, tmp_path / "second.log")
    try:
        wait_for_records(settings, topics.verdicts, n, timeout_s=240)
        wait_committed_to_end(settings, unique)
    finally:
        second.signal(signal.SIGTERM)
        assert second.wait(90) == 0
    by_video = verdict_ids_by_video(read_topic(settings, topics.verdicts, expect=n))
    assert set(by_video) == {f"v{i}" for i in range(n)}, "every event has a verdict"
    assert all(len(ids) == 1 for ids in by_video.values()), \
        "a duplicate verdict must carry the same verdict_id"


def test_exactly_once_kill_9_leaves_no_duplicate_for_read_committed_readers(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path,
) -> None:
    settings = pipeline_settings(stack, topics, group=unique,
                                 pipeline={"delivery": "exactly_once"},
                                 kafka={"transactional_id": f"{unique}-tx"})
    n = 40
    produce(settings, uploads(sample_videos, n))
    first = VmcProcess(settings, tmp_path / "first.log")
    try:
        wait_for_records(settings, topics.verdicts, 8, timeout_s=120, read_committed=True)
    finally:
        first.signal(signal.SIGKILL)
        first.stop()
    second = VmcProcess(settings, tmp_path / "second.log")
    try:
        wait_for_records(settings, topics.verdicts, n, timeout_s=240, read_committed=True)
    finally:
        second.signal(signal.SIGTERM)
        assert second.wait(90) == 0, (tmp_path / "second.log").read_text()[-3000:]
    committed_view = read_topic(settings, topics.verdicts, expect=n, read_committed=True,
                                settle_s=3)
    records = [json.loads(m.value()) for m in committed_view]
    seen: dict[str, list[str]] = defaultdict(list)
    for record in records:
        seen[record["video_id"]].append(
            f"{record['source']['partition']}@{record['source']['offset']} "
            f"at {record['processed_at']}")
    duplicates = {video: where for video, where in seen.items() if len(where) > 1}
    assert not duplicates, f"duplicates for read_committed readers: {duplicates}"
    assert set(seen) == {f"v{i}" for i in range(n)}, "exactly one verdict per event"
    tags = read_topic(settings, topics.tags, expect=n, read_committed=True, settle_s=2)
    assert len(tags) == n


def test_sigterm_kills_a_decode_still_reading_a_slow_source_when_the_grace_ends(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path,
) -> None:
    """A worker blocked in a 20 s read must not hold the exit past shutdown_grace_s."""
    grace_s = 2.0
    with drip_server(sample_videos[0].read_bytes(), seconds=120) as slow_url:
        settings = pipeline_settings(
            stack, topics, group=unique,
            source={"allowed_schemes": ["file", "http"], "allowed_networks": ["127.0.0.0/8"],
                    "read_timeout_s": 20},
            decode={"timeout_s": 120},
            pipeline={"shutdown_grace_s": grace_s})
        produce(settings, [("slow", upload_event("slow", slow_url)), *uploads(sample_videos, 3)])
        process = VmcProcess(settings, tmp_path / "vmc.log")
        try:
            wait_for_records(settings, topics.verdicts, 3, timeout_s=120)
            started = time.monotonic()
            process.signal(signal.SIGTERM)
            code = process.wait(60)
            took = time.monotonic() - started
        finally:
            process.stop()
    log = (tmp_path / "vmc.log").read_text()
    assert code == 0, log[-3000:]
    assert took < grace_s + 8, f"exit took {took:.1f}s with a {grace_s}s grace"
    verdicts = read_topic(settings, topics.verdicts, expect=3, timeout_s=10)
    assert "slow" not in {json.loads(m.value())["video_id"] for m in verdicts}
    committed, ends = committed_vs_end(settings, unique)
    assert sum(committed.values()) < sum(ends.values()), \
        "the unfinished video stays uncommitted, to be redone after the restart"
