"""In-memory edges for unit tests of the spine: a broker with a consumer and a producer, decode
workers and a model, and a clock that moves only when the loop waits.

Kafka's values (Message, TopicPartition, KafkaError, KafkaException) are confluent-kafka's
own; what is faked is the network. Rebalances arrive inside poll/consume, as with librdkafka,
and a poll that finds nothing advances the clock by its timeout, so commit intervals, batch
deadlines and breaker resets pass as they would, in no wall-clock time.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from consumer.errors import InferenceError, InferenceTimeout, InferenceUnavailable
from consumer.inference.triton_client import BatchScores
from consumer.media import CorruptMedia, ExtractorQueueFull, Keyframes, ResizeSpec, VideoProbe
from consumer.media.frame_hash import FrameHash
from consumer.models.specs import ModelSpec, get_spec
from consumer.settings import Settings

_TOPICS = Settings().kafka.topics
TOPIC = _TOPICS.input
SHORT = {"verdicts": _TOPICS.verdicts, "tags": _TOPICS.tags, "dlq": _TOPICS.dlq}
TP = tuple[str, int]


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@dataclass
class Output:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    def json(self) -> dict[str, Any]:
        return json.loads(self.value)  # type: ignore[no-any-return]

    def header(self, name: str) -> bytes | None:
        return dict(self.headers).get(name)


@dataclass
class Broker:
    """Topics' logs, the group's committed offsets, and what reached the output topics."""

    partitions: int = 2
    logs: dict[int, list[Message]] = field(default_factory=dict)
    committed: dict[TP, int] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    topics: set[str] = field(default_factory=lambda: {TOPIC, *SHORT.values()})

    def append(self, value: bytes, partition: int = 0, *, timestamp_ms: int = 1_000,
               headers: list[tuple[str, bytes]] | None = None) -> int:
        log = self.logs.setdefault(partition, [])
        offset = len(log)
        log.append(Message(topic=TOPIC, partition=partition, offset=offset, value=value,
                           headers=headers or [], timestamp=(1, timestamp_ms)))
        return offset

    def event(self, video_id: str, uri: str | None = None, partition: int = 0,
              **kwargs: Any) -> int:
        body = {"video_id": video_id, "uri": uri or f"https://videos.example/{video_id}.mp4"}
        return self.append(json.dumps(body).encode(), partition, **kwargs)

    def on(self, topic: str) -> list[Output]:
        """Outputs on one topic: "verdicts", "tags" or "dlq"."""
        return [o for o in self.outputs if o.topic == SHORT[topic]]

    def verdicts(self) -> dict[str, list[str]]:
        """video id -> the verdicts published for it, in order."""
        out: dict[str, list[str]] = {}
        for record in self.on("verdicts"):
            body = record.json()
            out.setdefault(body["video_id"], []).append(body["verdict"])
        return out


class FakeConsumer:
    """One group member. `revoke`, `lose` and `assign_more` schedule a rebalance that the next
    poll or consume delivers through the callbacks, as librdkafka does."""

    def __init__(self, broker: Broker, clock: Clock) -> None:
        self.broker = broker
        self.clock = clock
        self.callbacks: dict[str, Callable[[Any, list[TopicPartition]], None]] = {}
        self.assignment: set[TP] = set()
        self.position: dict[TP, int] = {}
        self.paused: set[TP] = set()
        self.rebalances: deque[tuple[str, list[TP]]] = deque()
        self.commit_failures = 0
        self.commits: list[dict[TP, int]] = []
        self.closed = False

    # --- what the pipeline calls
    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None,
                  on_lost: Any = None) -> None:
        self.callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}
        self.rebalances.append(("assign", [(TOPIC, p) for p in range(self.broker.partitions)]))

    def assign(self, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            tp = (p.topic, p.partition)
            self.assignment.add(tp)
            self.position[tp] = p.offset if p.offset >= 0 else self.broker.committed.get(tp, 0)

    def poll(self, timeout: float = -1) -> Message | None:
        messages = self.consume(1, timeout)
        return messages[0] if messages else None

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        self._serve_rebalances()
        out: list[Message] = []
        for tp in sorted(self.assignment - self.paused):
            log = self.broker.logs.get(tp[1], [])
            while len(out) < num_messages and self.position[tp] < len(log):
                out.append(log[self.position[tp]])
                self.position[tp] += 1
        if not out:
            self.clock.advance(timeout)
        return out

    def commit(self, *, offsets: list[TopicPartition],
               asynchronous: bool = True) -> list[TopicPartition]:
        if self.commit_failures:
            self.commit_failures -= 1
            raise KafkaException(KafkaError(KafkaError.REQUEST_TIMED_OUT, "commit timed out",
                                            retriable=True))
        positions = {(p.topic, p.partition): p.offset for p in offsets}
        self.broker.committed.update(positions)
        self.commits.append(positions)
        return offsets

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(p.topic, p.partition) for p in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {(p.topic, p.partition) for p in partitions}

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        return SimpleNamespace(topics={t: SimpleNamespace(error=None) for t in self.broker.topics})

    def consumer_group_metadata(self) -> Any:
        return self  # the producer commits transactional offsets through it

    def close(self) -> None:
        self.closed = True

    # --- what tests call
    def revoke(self, partitions: Sequence[int]) -> None:
        self.rebalances.append(("revoke", [(TOPIC, p) for p in partitions]))

    def lose(self, partitions: Sequence[int]) -> None:
        self.rebalances.append(("lost", [(TOPIC, p) for p in partitions]))

    def assign_more(self, partitions: Sequence[int]) -> None:
        self.rebalances.append(("assign", [(TOPIC, p) for p in partitions]))

    def _serve_rebalances(self) -> None:
        while self.rebalances:
            kind, tps = self.rebalances.popleft()
            kafka_tps = [TopicPartition(t, p) for t, p in tps]
            if kind == "assign":
                self.assign(kafka_tps)
                self.paused -= set(tps)  # a new assignment starts unpaused
            callback = self.callbacks.get(kind)
            if callback is not None:
                callback(self, kafka_tps)
            if kind != "assign":
                self.assignment -= set(tps)
                self.paused -= set(tps)


class FakeProducer:
    """Delivery reports are served by poll/flush; transactions land outputs and offsets
    together on commit. Failures are queued per call by the tests."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.queued: list[tuple[Output, Any]] = []
        self.refuse: dict[str, KafkaError] = {}  # "verdicts"/"tags"/"dlq" -> delivery error
        self.max_bytes: dict[str, int] = {}  # "verdicts"/"tags"/"dlq" -> broker's size limit
        self.produce_error: KafkaException | None = None
        self.in_txn = False
        self.txn_outputs: list[Output] = []
        self.txn_offsets: dict[TP, int] = {}
        self.begun = 0
        self.aborted = 0
        self.send_offsets_failures: deque[KafkaError] = deque()
        self.commit_failures: deque[KafkaError] = deque()

    def produce(self, topic: str, *, value: bytes | None = None, key: bytes | None = None,
                on_delivery: Any = None, headers: Any = None) -> None:
        if self.produce_error is not None:
            raise self.produce_error
        output = Output(topic, key, value or b"", list(headers or []))
        if self.in_txn:
            self.txn_outputs.append(output)
        else:
            self.queued.append((output, on_delivery))

    def poll(self, timeout: float = -1) -> int:
        served, self.queued = self.queued, []
        for output, callback in served:
            short = next(k for k, v in SHORT.items() if v == output.topic)
            error = self.refuse.get(short)
            size = len(output.value) + sum(len(v) for _, v in output.headers)
            if short in self.max_bytes and size > self.max_bytes[short]:
                error = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "too large")
            if error is None:
                self.broker.outputs.append(output)
            message = Message(topic=output.topic, key=output.key, value=output.value,
                              headers=output.headers)
            if callback is not None:
                callback(error, message)
        return len(served)

    def flush(self, timeout: float = -1) -> int:
        self.poll(0)
        return 0

    def init_transactions(self, timeout: float = -1) -> None:
        pass

    def begin_transaction(self) -> None:
        assert not self.in_txn, "begin_transaction inside an open transaction"
        self.in_txn = True
        self.begun += 1
        self.txn_outputs, self.txn_offsets = [], {}

    def send_offsets_to_transaction(self, positions: list[TopicPartition], group_metadata: Any,
                                    timeout: float = -1) -> None:
        if self.send_offsets_failures:
            raise KafkaException(self.send_offsets_failures.popleft())
        self.txn_offsets = {(p.topic, p.partition): p.offset for p in positions}

    def commit_transaction(self, timeout: float = -1) -> None:
        assert self.in_txn, "commit without a transaction"
        if self.commit_failures:
            raise KafkaException(self.commit_failures.popleft())
        self.broker.outputs += self.txn_outputs
        self.broker.committed.update(self.txn_offsets)
        self.in_txn = False

    def abort_transaction(self, timeout: float = -1) -> None:
        self.in_txn = False
        self.aborted += 1
        self.txn_outputs, self.txn_offsets = [], {}


SPEC = get_spec("nsfw_classifier")  # labels (sfw, nsfw); policy: review 0.5, block 0.8


KNOWN_PDQ = "a" * 64  # the frame hash of videos with `known` in their URI


def keyframes(specs: Sequence[ResizeSpec], value: int, count: int = 3,
              pdq: str = "0" * 64) -> Keyframes:
    probe = VideoProbe(duration_s=float(count), width=64, height=64, fps=1.0, codec="h264",
                       container="mp4", rotation=0, has_audio=False, bit_rate=None,
                       size_bytes=1000)
    frames = {s: np.full((count, s.size, s.size, 3), value, np.uint8) for s in specs}
    return Keyframes(probe, [float(i) for i in range(count)], frames,
                     hashes=[FrameHash(pdq, 100)] * count, hash_s=0.001)


class FakeExtractor:
    """Decodes by URI: `nsfw` in it gives white frames (scored nsfw), `corrupt` a media
    error, `empty` no keyframes, `bug` an unexpected exception; else black frames. With
    `hold`, futures stay pending until `release`."""

    def __init__(self, *, hold: bool = False) -> None:
        self.hold = hold
        self.held: list[tuple[str, Sequence[ResizeSpec], Future[Keyframes]]] = []
        self.submitted: list[str] = []
        self.queue_full = 0

    def submit(self, uri: str, specs: Sequence[ResizeSpec]) -> Future[Keyframes]:
        if self.queue_full:
            self.queue_full -= 1
            raise ExtractorQueueFull("decode queue full")
        self.submitted.append(uri)
        future: Future[Keyframes] = Future()
        if self.hold:
            self.held.append((uri, specs, future))
        else:
            self._resolve(uri, specs, future)
        return future

    def release(self) -> None:
        held, self.held = self.held, []
        for uri, specs, future in held:
            if not future.cancelled():
                self._resolve(uri, specs, future)

    @staticmethod
    def _resolve(uri: str, specs: Sequence[ResizeSpec], future: Future[Keyframes]) -> None:
        if "corrupt" in uri:
            future.set_exception(CorruptMedia("moov atom not found"))
        elif "bug" in uri:
            future.set_exception(ZeroDivisionError("a bug in one video's path"))
        elif "empty" in uri:
            future.set_result(keyframes(specs, 0, count=0))
        elif "slow" in uri:
            future.set_result(keyframes(specs, SLOW_PIXEL))
        else:
            future.set_result(keyframes(specs, 255 if "nsfw" in uri else 0,
                                        pdq=KNOWN_PDQ if "known" in uri else "0" * 64))


SLOW_PIXEL = 7  # the frames of videos with `slow` in their URI: FakeModel can time out on them


class FakeModel:
    """Scores a row nsfw = its mean pixel / 255. `down` answers that many requests with
    InferenceUnavailable; with `hold`, answers wait for `answer`. With `slow`, a batch with a
    `slow` video's row times out (InferenceTimeout); `alive` is what a health probe hears."""

    def __init__(self, spec: ModelSpec = SPEC, *, hold: bool = False) -> None:
        self.spec = spec
        self.hold = hold
        self.down = 0
        self.invalid = 0
        self.requests: list[int] = []  # batch sizes sent
        self.slow = False
        self.alive = True
        self.pending: list[tuple[npt.NDArray[np.uint8], Any]] = []

    def infer_async(self, rows: Sequence[Any],
                    done: Callable[[BatchScores | InferenceError], None]) -> None:
        pixels = np.stack(rows)
        self.requests.append(len(pixels))
        if self.hold:
            self.pending.append((pixels, done))
        else:
            self._answer(pixels, done)

    def answer(self) -> None:
        pending, self.pending = self.pending, []
        for pixels, done in pending:
            self._answer(pixels, done)

    def _answer(self, pixels: npt.NDArray[np.uint8],
                done: Callable[[BatchScores | InferenceError], None]) -> None:
        if self.down:
            self.down -= 1
            done(InferenceUnavailable("triton: connection refused"))
            return
        if self.slow and any(int(p.mean()) == SLOW_PIXEL for p in pixels):
            done(InferenceTimeout("nsfw_classifier:1: StatusCode.DEADLINE_EXCEEDED: Deadline "
                                  "Exceeded"))
            return
        if self.invalid:
            self.invalid -= 1
            done(InferenceError("scores output has the wrong shape"))
            return
        nsfw = pixels.reshape(len(pixels), -1).mean(axis=1) / 255.0
        done(BatchScores(np.stack([1 - nsfw, nsfw], axis=1).astype(np.float32), "1"))

    def ready(self) -> bool:
        return self.alive


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
    def keyframes_decoded(self, count: int, decode_s: float) -> None: ...
    def decoded_on(self, device: str, fallback: str | None) -> None: ...
    def music_match(self, catalogue: str) -> None: ...
    def batch(self, model: str, size: int, capacity: int, seconds: float) -> None: ...
    def assignment(self, partitions: int) -> None: ...
    def signal_time(self, signal: str, seconds: float) -> None: ...

    def hash_match(self, list_name: str) -> None:
        self.events.append(f"hash_match:{list_name}")

    def text_match(self, rule: str) -> None:
        self.events.append(f"text_match:{rule}")

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

    def until(self, condition: Callable[[], bool], steps: int = 2000) -> None:
        """Turn the loop (started on first use) until `condition` holds; fail after `steps`."""
        if not self.started:
            self.pipeline.start()
            self.started = True
        for _ in range(steps):
            if condition():
                return
            self.pipeline.step()
        raise AssertionError(f"not reached in {steps} steps")

    def settled(self) -> bool:
        """Nothing in flight and every partition's log committed to its end."""
        ends = {(TOPIC, p): len(log) for p, log in self.broker.logs.items()}
        return not self.pipeline.inflight() and all(
            self.broker.committed.get(tp, 0) == end for tp, end in ends.items())


def rig(*, hold_decode: bool = False, hold_model: bool = False, partitions: int = 2,
        window: Any = None, rules: Any = None, limit_bytes: int = 100_000,
        **pipeline: Any) -> Rig:
    from consumer.pipeline.runner import Pipeline
    from consumer.publishing.limits import RecordLimits

    broker, clock = Broker(partitions), Clock()
    consumer, producer = FakeConsumer(broker, clock), FakeProducer(broker)
    extractor, model, hooks = FakeExtractor(hold=hold_decode), FakeModel(hold=hold_model), \
        Recorder()
    built = Pipeline(settings(**pipeline), consumer, producer, extractor, [model], hooks=hooks,
                     clock=clock, window=window, limits=RecordLimits.uniform(limit_bytes),
                     rules=rules)
    return Rig(broker, clock, consumer, producer, extractor, model, hooks, built)
