"""Triton outages, group membership changes and slow videos: no loss, no DLQ for our faults."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

from consumer.pipeline.hooks import PipelineHooks
from consumer.settings import KafkaTopics
from devstack.process import wait_until
from tests.integration.conftest import PrivateTriton, RunningStack
from tests.integration.pipeline.conftest import (
    drip_server,
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
    uploads,
    verdict_ids_by_video,
    wait_committed_to_end,
    wait_for_records,
)


def test_triton_stopped_mid_stream_pauses_then_resumes_by_itself(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    private_triton: PrivateTriton,
) -> None:
    settings = pipeline_settings(stack, topics, group=unique,
                                 triton={"url": private_triton.url})
    n = 40
    events = uploads(sample_videos, n)
    with running_pipeline(settings) as pipeline:
        produce(settings, events[:20])
        wait_for_records(settings, topics.verdicts, 20, timeout_s=120)
        private_triton.stop()
        # The second wave arrives while Triton is down: it must wait, not fail.
        produce(settings, events[20:])
        wait_until("partitions paused", lambda: bool(pipeline.partitions.paused), timeout_s=60)
        time.sleep(3)
        assert len(read_topic(settings, topics.verdicts, expect=20, timeout_s=5)) == 20
        private_triton.start()
        wait_for_records(settings, topics.verdicts, n, timeout_s=240)
        wait_until("partitions resumed", lambda: not pipeline.partitions.paused, timeout_s=60)
        wait_committed_to_end(settings, unique)
    by_video = verdict_ids_by_video(read_topic(settings, topics.verdicts, expect=n))
    assert set(by_video) == {f"v{i}" for i in range(n)}
    assert all(len(ids) == 1 for ids in by_video.values())
    assert read_topic(settings, topics.dlq, expect=0, timeout_s=3) == [], \
        "an outage of Triton is never the event's fault"


def test_consumers_joining_and_leaving_the_group_lose_nothing(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
) -> None:
    settings = pipeline_settings(stack, topics, group=unique, workers={"count": 1})
    n = 90
    produce(settings, uploads(sample_videos, n))
    with contextlib.ExitStack() as members:
        first = members.enter_context(running_pipeline(settings))
        members.enter_context(running_pipeline(settings))
        wait_for_records(settings, topics.verdicts, 15, timeout_s=180)
        third = running_pipeline(settings)
        members.enter_context(third)
        wait_for_records(settings, topics.verdicts, 35, timeout_s=180)
        first.request_stop()  # one member leaves (drains, commits, closes)
        wait_for_records(settings, topics.verdicts, n, timeout_s=300)
        wait_committed_to_end(settings, unique, timeout_s=60)
    by_video = verdict_ids_by_video(read_topic(settings, topics.verdicts, expect=n))
    assert set(by_video) == {f"v{i}" for i in range(n)}
    assert all(len(ids) == 1 for ids in by_video.values())


class _CountingHooks(PipelineHooks):
    def __init__(self) -> None:
        self.assignment_changes = 0

    def assignment(self, partitions: int) -> None:
        self.assignment_changes += 1


def test_a_video_slower_than_max_poll_interval_causes_no_rebalance(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
) -> None:
    with drip_server(sample_videos[0].read_bytes()) as slow_url:
        settings = pipeline_settings(
            stack, topics, group=unique,
            kafka={"client": {"max.poll.interval.ms": "6000", "session.timeout.ms": "6000"}},
            source={"allowed_schemes": ["file", "http"], "allowed_networks": ["127.0.0.0/8"],
                    "read_timeout_s": 30},
            decode={"timeout_s": 60})
        records = [("slow", upload_event("slow", slow_url))]
        records += uploads(sample_videos, 20)
        produce(settings, records)
        hooks = _CountingHooks()
        from consumer.wiring import build_pipeline

        with contextlib.ExitStack() as stack_:
            pipeline = build_pipeline(settings, stack_, hooks=hooks)
            started = time.monotonic()
            done = threading.Event()
            thread = threading.Thread(target=lambda: (pipeline.run(), done.set()), daemon=True)
            thread.start()
            try:
                verdicts = wait_for_records(settings, topics.verdicts, 21, timeout_s=180)
                assignments_while_running = hooks.assignment_changes
            finally:
                pipeline.request_stop()
                thread.join(120)
    elapsed = time.monotonic() - started
    ids = {json.loads(m.value())["video_id"] for m in verdicts}
    assert "slow" in ids and len(ids) == 21
    assert elapsed > 6, "the slow video must really outlast max.poll.interval.ms"
    assert assignments_while_running == 1, "one assignment, no rebalance"
    wait_committed_to_end(settings, unique)
