"""The spine on fakes, for its unit tests: a `Pipeline` built on the in-memory Kafka
(`fake_kafka`), decode workers and model (`fake_work`), hooks that remember what it reported,
and a `Rig` that turns the loop until a condition holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consumer.settings import Settings
from tests.unit.pipeline.fake_kafka import TOPIC, Broker, Clock, FakeConsumer, FakeProducer
from tests.unit.pipeline.fake_work import FakeExtractor, FakeModel


def settings(**pipeline: Any) -> Settings:
    """Defaults, with a short commit interval and small bounds unless a test says otherwise."""
    values = {"commit_interval_s": 0.5, "max_inflight_videos": 8, "shutdown_grace_s": 5.0,
              **pipeline}
    return Settings(pipeline=values, triton={"breaker_failures": 2, "breaker_reset_s": 5.0,
                                             "retry_base_s": 0.1, "retry_cap_s": 0.2})


class Recorder:
    """Hooks that remember what the spine reported."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.failures: list[tuple[str, str]] = []
        self.breaker_states: list[str] = []
        self.truncated: list[tuple[str, dict[str, int]]] = []

    def event(self, outcome: str) -> None:
        self.events.append(outcome)

    def verdict(self, verdict: str, latency_s: float | None) -> None: ...
    def dead_letter(self, stage: str) -> None: ...
    def review_task(self, sampled: str) -> None: ...
    def keyframes_decoded(self, count: int, decode_s: float) -> None: ...
    def decoded_on(self, device: str, fallback: str | None) -> None: ...
    def batch(self, model: str, size: int, capacity: int, seconds: float) -> None: ...
    def assignment(self, partitions: int) -> None: ...
    def signal_time(self, signal: str, seconds: float) -> None: ...

    def signal_match(self, signal: str, match: str) -> None:
        self.events.append(f"{signal}:{match}")

    def signal_reason(self, signal: str, action: str) -> None:
        self.events.append(f"reason:{signal}:{action}")

    def failure(self, stage: str, reason: str) -> None:
        self.failures.append((stage, reason))

    def record_truncated(self, topic_kind: str, cut: Any) -> None:
        self.truncated.append((topic_kind, dict(cut)))

    def loop(self, inflight: int, paused: int, breaker: Any) -> None:
        if not self.breaker_states or self.breaker_states[-1] != breaker.name:
            self.breaker_states.append(breaker.name)


@dataclass
class Rig:
    """A Pipeline on fakes, and the fakes to steer and inspect it."""

    broker: Broker
    clock: Clock
    consumer: FakeConsumer
    producer: FakeProducer
    extractor: FakeExtractor
    model: FakeModel
    hooks: Recorder
    pipeline: Any
    started: bool = False

    def until(self, condition: Callable[[], bool], steps: int = 2000,
              real_s: float = 10.0) -> None:
        """Turn the loop (started on first use) until `condition` holds; fail after `steps`
        and at least `real_s` seconds: work on real threads (matching) finishes in real time,
        which `steps` of a fake clock do not measure."""
        if not self.started:
            self.pipeline.start()
            self.started = True
        deadline = time.monotonic() + real_s
        turned = 0
        while turned < steps or time.monotonic() < deadline:
            if condition():
                return
            self.pipeline.step()
            turned += 1
            if turned >= steps:
                time.sleep(0.001)
        raise AssertionError(f"not reached in {turned} steps and {real_s:g} s")

    def settled(self) -> bool:
        """Nothing in flight and every partition's log committed to its end."""
        ends = {(TOPIC, p): len(log) for p, log in self.broker.logs.items()}
        return not self.pipeline.inflight() and all(
            self.broker.committed.get(tp, 0) == end for tp, end in ends.items())


def _signals(configured: Settings, known_content: Any) -> list[Any]:
    """The registered signals; `known_content` (anything with HashListStore's `match`) stands
    in for the known-content signal's lists."""
    from consumer.signals import instances

    signals = instances(configured)
    for signal in signals:
        if known_content is not None and signal.name == "known_content":
            signal.store = known_content  # type: ignore[attr-defined]
    return signals


def rig(*, hold_decode: bool = False, hold_model: bool = False, partitions: int = 2,
        window: Any = None, known_content: Any = None, limit_bytes: int = 100_000,
        observer: Any = None, **pipeline: Any) -> Rig:
    """`observer`: hooks to report to instead of the `Recorder` (e.g. ConsumerMetrics)."""
    from consumer.pipeline.runner import Pipeline
    from consumer.publishing.limits import RecordLimits

    broker, clock = Broker(partitions), Clock()
    consumer, producer = FakeConsumer(broker, clock), FakeProducer(broker)
    extractor, model, hooks = FakeExtractor(hold=hold_decode), FakeModel(hold=hold_model), \
        Recorder()
    configured = settings(**pipeline)
    built = Pipeline(configured, consumer, producer, extractor, [model],
                     hooks=observer or hooks,
                     clock=clock, window=window, limits=RecordLimits.uniform(limit_bytes),
                     signals=_signals(configured, known_content))
    return Rig(broker, clock, consumer, producer, extractor, model, hooks, built)
