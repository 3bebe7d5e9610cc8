"""Helpers of the review-loop integration tests: the loop's topics, decisions as reviewers'
tools write them, and `vmc decisions`' loop in a thread of the test."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from consumer.cli.decisions import build_loop
from consumer.settings import KafkaTopics, Settings
from devstack.kafka import create_topics, kafka_logged, topic_configs, topic_layout


def loop_topics(topics: KafkaTopics, unique: str, settings: Settings) -> KafkaTopics:
    """`topics` plus fresh review, decisions and signals topics (created as in production)."""
    names = topics.model_copy(update={"review": f"{unique}.review",
                                      "decisions": f"{unique}.decisions",
                                      "signals": f"{unique}.signals"})
    create_topics(settings.kafka.librdkafka_config(), topic_layout(names), topic_configs(names))
    return names


def send(settings: Settings, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = Producer(kafka_logged({**settings.kafka.librdkafka_config(),
                                      "enable.idempotence": True}))
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def decision(verdict: dict[str, Any], kind: str, at: datetime, *,
             categories: tuple[str, ...] = ("nsfw",), reviewer: str = "r1"
             ) -> tuple[str, bytes]:
    """A reviewer's decision on a verdict record, keyed by its video."""
    return verdict["video_id"], json.dumps({
        "video_id": verdict["video_id"], "verdict_id": verdict["verdict_id"],
        "decision": kind, "categories": list(categories), "reviewer": reviewer,
        "time": at.isoformat().replace("+00:00", "Z")}).encode()


def after(moment: datetime, minutes: int) -> datetime:
    return moment + timedelta(minutes=minutes)


@contextlib.contextmanager
def decisions_loop(settings: Settings) -> Iterator[tuple[Any, CollectorRegistry]]:
    """`vmc decisions`' loop (its clients, state file, metrics) running in a thread; stopped
    after the record in hand on exit, as SIGTERM stops the command."""
    registry = CollectorRegistry()
    with contextlib.ExitStack() as stack:
        loop = build_loop(settings, stack, registry)
        thread = threading.Thread(target=loop.run, kwargs={"refresh_s": 0.1}, daemon=True,
                                  name="decisions")
        thread.start()
        try:
            yield loop, registry
        finally:
            loop.stopping.set()
            thread.join(30)
            assert not thread.is_alive(), "the decisions loop did not stop within 30 s"


def wait_for(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    """Poll `check` until true; fails the test with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.2)
