"""The always-on pipeline: one explicit loop, nothing blocking for longer than a poll.

poll -> parse -> decode (worker processes) -> cross-video micro-batches -> async Triton ->
policy -> produce -> watermark commit. Completions from workers and gRPC threads arrive on one
queue and are applied on the loop's thread, so all state has a single owner.

Outcomes, decided here and only here: any exception raised while parsing or handling one
event becomes that event's outcome in `_reject`, never the process's exit: a DLQ copy, plus
one `unprocessable` verdict when the event names a video (a malformed event, bad media, or a
bug met by one video). An unreachable Triton opens the breaker, pauses every partition and
retries (no offset advances); unusable model outputs fail closed to `review`; a failed
delivery of our own output stops the consumer (never DLQ).
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from consumer.errors import (
    ConsumerError,
    InferenceError,
    InferenceUnavailable,
    MediaError,
    PublishError,
)
from consumer.events import InvalidEvent, parse_upload_event
from consumer.inference.batcher import Batch, MicroBatcher
from consumer.inference.breaker import Backoff, BreakerState, CircuitBreaker
from consumer.inference.triton_client import BatchScores
from consumer.media import ExtractorClosed, ExtractorQueueFull, Keyframes, ResizeSpec
from consumer.pipeline.jobs import VideoJob
from consumer.pipeline.kafka_clients import LIBRDKAFKA_MESSAGE_MAX_BYTES
from consumer.pipeline.offsets import OffsetTracker, TopicPartition
from consumer.pipeline.ratelimit import TokenBucket
from consumer.policy.assess import assess
from consumer.policy.decide import Decision, unprocessable
from consumer.publishing.dlq import dlq_headers, fit_dead_letter
from consumer.publishing.records import (
    SourceRef,
    encode,
    tags_record,
    verdict_record,
)
from consumer.settings import Settings
from triton_models.specs import ModelSpec

log = logging.getLogger("consumer.pipeline")

Record = tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]
MAX_DEAD_LETTER_SHRINKS = 6


def _latency_s(uploaded_at: datetime | None, now: datetime) -> float | None:
    """Upload -> verdict; None when the event has no (usable) upload time."""
    if uploaded_at is None or uploaded_at.tzinfo is None:
        return None
    try:
        return (now - uploaded_at).total_seconds()
    except OverflowError:
        return None


def _covered(positions: Mapping[TopicPartition, int], src: SourceRef) -> bool:
    """Is this source offset below the position about to be committed for its partition?"""
    position = positions.get((src.topic, src.partition))
    return position is not None and src.offset < position


@dataclass(frozen=True)
class Window:
    """A bounded run (a replay): fixed partitions from `start` up to `end` (exclusive), and
    only events stamped in [from_ms, to_ms); the run ends when every partition is done."""

    start: Mapping[TopicPartition, int]
    end: Mapping[TopicPartition, int]
    from_ms: int | None = None
    to_ms: int | None = None

    def holds(self, timestamp_ms: int) -> bool:
        return (self.from_ms is None or timestamp_ms >= self.from_ms) and \
            (self.to_ms is None or timestamp_ms < self.to_ms)


class _NoKeyframes(MediaError):
    """The decoder returned a video without a single frame."""

    reason = "no_keyframes"


class Extractor(Protocol):
    def submit(self, uri: str, specs: Sequence[ResizeSpec]) -> Future[Keyframes]: ...


class ModelClient(Protocol):
    spec: ModelSpec

    def infer_async(self, pixels: npt.NDArray[np.uint8],
                    done: Callable[[BatchScores | InferenceError], None]) -> None: ...

    def ready(self) -> bool: ...


class PipelineHooks:
    """Observation points for metrics and health; the default does nothing."""

    def event(self, outcome: str) -> None: ...
    def verdict(self, verdict: str, latency_s: float | None) -> None: ...
    def failure(self, stage: str, reason: str) -> None: ...
    def dead_letter(self, stage: str) -> None: ...
    def keyframes_decoded(self, count: int, decode_s: float) -> None: ...
    def batch(self, model: str, size: int, capacity: int, seconds: float) -> None: ...
    def loop(self, inflight: int, paused: int, breaker: BreakerState) -> None: ...
    def assignment(self, partitions: int) -> None: ...


class Pipeline:
    """Owns the loop; build it with the edges (Kafka clients, extractor, model clients)."""

    def __init__(
        self,
        settings: Settings,
        consumer: Any,
        producer: Any,
        extractor: Extractor,
        models: Sequence[ModelClient],
        *,
        hooks: PipelineHooks | None = None,
        clock: Callable[[], float] = time.monotonic,
        window: Window | None = None,
        max_events_per_s: float | None = None,
        dead_letter_limit_bytes: int = LIBRDKAFKA_MESSAGE_MAX_BYTES,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.extractor = extractor
        self.models = {client.spec.name: client for client in models}
        self.hooks = hooks or PipelineHooks()
        self.clock = clock
        pipe = settings.pipeline
        self.exactly_once = pipe.delivery == "exactly_once"
        self.dead_letter_limit_bytes = dead_letter_limit_bytes
        self.resize_specs = {name: ResizeSpec(c.spec.input_size, c.spec.resize_mode)
                             for name, c in self.models.items()}
        max_rows = pipe.max_inflight_videos * settings.decode.max_keyframes
        self.batchers: dict[str, MicroBatcher[int]] = {
            name: MicroBatcher(min(pipe.batch_max_size, c.spec.max_batch_size),
                               pipe.batch_deadline_ms / 1000, max(max_rows, pipe.batch_max_size))
            for name, c in self.models.items()
        }
        self.inflight_batches = dict.fromkeys(self.models, 0)
        self.retry_at = dict.fromkeys(self.models, 0.0)
        self.retry_attempt = dict.fromkeys(self.models, 0)
        self.breaker = CircuitBreaker(settings.triton.breaker_failures,
                                      settings.triton.breaker_reset_s)
        self.backoff = Backoff(settings.triton.retry_base_s, settings.triton.retry_cap_s)
        self.tracker = OffsetTracker()
        self.jobs: dict[int, VideoJob] = {}
        self.completions: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.assigned: set[TopicPartition] = set()
        self.paused: set[TopicPartition] = set()
        self.eos_ready: list[tuple[SourceRef, list[Record]]] = []
        self.resubmit: deque[tuple[float, int]] = deque()
        self.waiting_rows: deque[int] = deque()
        self._txn_committing: dict[TopicPartition, int] | None = None
        self.window = window
        self.finished: set[TopicPartition] = set()
        self.fresh: set[TopicPartition] = set()
        self.rate = TokenBucket(max_events_per_s, now=clock()) if max_events_per_s else None
        self._next_job = 0
        self._last_commit = 0.0
        self._stop_requested = False
        self._stop_deadline: float | None = None
        self._fatal: BaseException | None = None
        self.last_loop_at = clock()

    # ----------------------------------------------------------------- lifecycle
    def request_stop(self) -> None:
        """SIGTERM: stop taking events, drain in-flight work within the grace period."""
        if not self._stop_requested:
            self._stop_requested = True
            self._stop_deadline = self.clock() + self.settings.pipeline.shutdown_grace_s
            log.info("stop requested: draining", extra={"inflight": len(self.jobs)})

    def run(self, until: Callable[[Pipeline], bool] | None = None) -> int:
        """Loop until stopped (0), until `until` holds (0), or a fatal error (1)."""
        topic = self.settings.kafka.topics.input
        self._check_output_topics()
        if self.exactly_once:
            self.producer.init_transactions(30)
        if self.window is None:
            self.consumer.subscribe([topic], on_assign=self._on_assign,
                                    on_revoke=self._on_revoke, on_lost=self._on_lost)
        else:
            from confluent_kafka import TopicPartition as KafkaTP

            starts = [KafkaTP(t, p, o) for (t, p), o in sorted(self.window.start.items())]
            self.consumer.assign(starts)
            self._on_assign(self.consumer, starts)
        try:
            while self._fatal is None:
                self.step()
                if until is not None and until(self):
                    break
                if self.window is not None and self.window_done():
                    log.info("window done: every partition reached its end offset")
                    break
                if self._stop_requested and (not self.inflight() or self._grace_over()):
                    break
        finally:
            self._close()
        if self._fatal is not None:
            log.error("stopped on a fatal error: %s", self._fatal)
            return 1
        return 0

    def _grace_over(self) -> bool:
        return self._stop_deadline is not None and self.clock() >= self._stop_deadline

    def _close(self) -> None:
        if self._fatal is None:
            self._flush_outputs(timeout_s=10)
            self._commit(force=True)
        remaining = len(self.jobs)
        self.consumer.close()
        log.info("consumer closed", extra={"unfinished": remaining})

    def step(self) -> None:
        """One turn of the loop: poll, apply completions, dispatch batches, commit."""
        now = self.clock()
        self.last_loop_at = now
        self._poll(self._poll_timeout(now))
        self._retry_submits(now)
        self._drain_completions()
        self._dispatch(self.clock())
        self.producer.poll(0)
        self._drain_completions()
        if self.exactly_once:
            self._commit_transaction()
        else:
            self._commit()
        self._apply_backpressure()
        self.hooks.loop(self.inflight(), len(self.paused), self.breaker.state(self.clock()))

    # ----------------------------------------------------------------- Kafka in
    def _check_output_topics(self) -> None:
        topics = self.settings.kafka.topics
        wanted = [topics.input, topics.verdicts, topics.tags, topics.dlq]
        try:
            metadata = self.consumer.list_topics(timeout=10)
        except Exception as exc:
            raise PublishError(f"cannot read cluster metadata: {exc}") from exc
        missing = [name for name in wanted if name not in metadata.topics
                   or metadata.topics[name].error is not None]
        if missing:
            raise PublishError(f"topics missing or not authorised: {', '.join(missing)}")

    def _poll_timeout(self, now: float) -> float:
        if self._stop_requested or not self.inflight():
            return 0.2
        due = [d for b in self.batchers.values() if (d := b.due_in(now)) is not None]
        return min([0.05, *due])

    def inflight(self) -> int:
        """Videos not yet committed: in progress, or finished and awaiting their transaction."""
        return len(self.jobs) + len(self.eos_ready)

    def _poll(self, timeout_s: float) -> None:
        room = self.settings.pipeline.max_inflight_videos - self.inflight()
        if self.rate is not None:
            room = min(room, self.rate.available(self.clock()))
        if self._stop_requested or room <= 0:
            # Partitions are (being) paused; poll serves rebalances and heartbeats. A message
            # fetched before the pause took effect is still taken: skipping it while a later
            # offset completes would let the watermark pass it.
            messages = [m for m in [self.consumer.poll(timeout_s)] if m is not None]
        else:
            messages = self.consumer.consume(num_messages=min(room, 64), timeout=timeout_s)
        if self.rate is not None and messages:
            self.rate.take(len(messages), self.clock())
        for msg in messages:
            if msg.error() is not None:
                log.warning("consumer error: %s", msg.error())
                continue
            if (msg.topic(), msg.partition()) not in self.assigned:
                # Fetched before a revoke took effect: the partition's new owner reads it.
                continue
            if self.window is not None and self._outside_window(msg):
                continue
            self._accept(msg)

    def _accept(self, msg: Any) -> None:
        source = SourceRef(msg.topic(), msg.partition(), msg.offset())
        job = VideoJob(self._next_job, source, msg.value() or b"", list(msg.headers() or []),
                       self.clock())
        self._next_job += 1
        self.tracker.start(job.tp, source.offset)
        self.jobs[job.job_id] = job
        try:
            job.event = parse_upload_event(
                msg.value(), job.headers, allowed_schemes=self._allowed_schemes(),
                max_bytes=self.settings.pipeline.max_event_bytes)
        except Exception as exc:  # InvalidEvent by contract; anything else is still this event's
            self._reject(job, "parse", exc)
            return
        self.hooks.event("accepted")
        self._guarded(job, "decode", self._submit)

    def _submit(self, job: VideoJob) -> None:
        """Hand the video to the decode workers; capacity errors retry, never fail the video."""
        assert job.event is not None
        try:
            future = self.extractor.submit(job.event.uri, list(self.resize_specs.values()))
        except (ExtractorQueueFull, ExtractorClosed) as exc:
            self._on_capacity_error(job, exc)
            return
        job.decode = future
        future.add_done_callback(self._completion("decoded", job.job_id))

    def _on_capacity_error(self, job: VideoJob, exc: ConsumerError) -> None:
        """Our own limits, not the video's fault: retry later (closed: leave it uncommitted)."""
        if isinstance(exc, ExtractorQueueFull):
            self.resubmit.append((self.clock() + 0.5, job.job_id))
        log.warning("decode capacity: %s (%s stays pending)", exc, job.source)

    def window_done(self) -> bool:
        """Every partition of the window committed up to its end (or had nothing to do)."""
        assert self.window is not None
        for tp, end in self.window.end.items():
            position = self.tracker.committed(tp)
            if position is None:
                position = self.window.start.get(tp, end)
            if position < end or self.tracker.inflight(tp):
                return False
        return not self.eos_ready

    def _outside_window(self, msg: Any) -> bool:
        """Past the end: pause the partition for good. Out of the time window: skip, done."""
        assert self.window is not None
        tp = (msg.topic(), msg.partition())
        if msg.offset() >= self.window.end.get(tp, 0):
            self.finished.add(tp)
            return True
        _, timestamp_ms = msg.timestamp()
        if not self.window.holds(timestamp_ms):
            self.tracker.start(tp, msg.offset())
            self.tracker.done(tp, msg.offset())
            self.hooks.event("skipped")
            return True
        return False

    def _allowed_schemes(self) -> set[str]:
        """The source policy's schemes: an event may not name what the reader would refuse."""
        return set(self.settings.source.allowed_schemes)

    def _retry_submits(self, now: float) -> None:
        while self.resubmit and self.resubmit[0][0] <= now:
            _, job_id = self.resubmit.popleft()
            job = self.jobs.get(job_id)
            if job is not None:
                self._guarded(job, "decode", self._submit)
        for _ in range(len(self.waiting_rows)):
            job = self.jobs.get(self.waiting_rows.popleft())
            if job is not None:
                self._guarded(job, "decode", self._queue_rows)

    # ----------------------------------------------------------------- completions
    def _completion(self, kind: str, *context: Any) -> Callable[[Any], None]:
        """A callback for another thread: it only queues; the loop applies the result."""

        def put(result: Any) -> None:
            self.completions.put((kind, (*context, result)))

        return put

    def _drain_completions(self) -> None:
        while True:
            try:
                kind, payload = self.completions.get_nowait()
            except queue.Empty:
                return
            if kind == "decoded":
                self._on_decoded(*payload)
            elif kind == "inferred":
                self._on_inferred(*payload)
            elif kind == "delivered":
                self._on_delivered(*payload)

    def _on_decoded(self, job_id: int, future: Future[Keyframes]) -> None:
        job = self.jobs.get(job_id)
        if job is None or future.cancelled():
            return
        try:
            keyframes = future.result()
        except (ExtractorQueueFull, ExtractorClosed) as exc:
            self._on_capacity_error(job, exc)
            return
        except Exception as exc:
            self._reject(job, "media", exc)
            return
        if not keyframes.pts_s:
            self._reject(job, "media", _NoKeyframes("decoder returned no keyframe"))
            return
        job.keyframes = keyframes
        self.hooks.keyframes_decoded(len(keyframes.pts_s), self.clock() - job.received_at)
        self._guarded(job, "decode", self._queue_rows)

    def _queue_rows(self, job: VideoJob) -> None:
        """Queue every model's rows of a decoded video, or retry later if a batcher is full."""
        assert job.keyframes is not None
        frames = {name: job.keyframes.frames[spec] for name, spec in self.resize_specs.items()}
        if not all(self.batchers[n].has_room(len(f)) for n, f in frames.items()):
            self.waiting_rows.append(job.job_id)
            return
        now = self.clock()
        for name, rows in frames.items():
            job.scores[name] = np.full((len(rows), len(self.models[name].spec.labels)),
                                       np.nan, np.float32)
            job.rows_left[name] = len(rows)
            self.batchers[name].add(job.job_id, rows, now)

    # ----------------------------------------------------------------- failures
    def _guarded(self, job: VideoJob, stage: str, action: Callable[[VideoJob], None]) -> None:
        """Run one event's step; whatever it raises is that event's outcome, not ours."""
        try:
            action(job)
        except Exception as exc:
            self._reject(job, stage, exc)

    def _reject(self, job: VideoJob, stage: str, exc: BaseException) -> None:
        """The one place a failure becomes an event's outcome: a DLQ copy of the original
        bytes, plus an `unprocessable` verdict when the event names a video."""
        if isinstance(exc, InvalidEvent):
            reason, video_id = exc.reason, exc.video_id
            self.hooks.event("invalid")
            log.warning("invalid event %s: %s", job.source, exc)
        elif isinstance(exc, MediaError):
            reason, video_id = exc.reason, job.event.video_id if job.event else None
            log.info("unprocessable %s: %s", job.source, exc)
        else:  # a bug, but one event's bug: it must not stop the partition
            reason = "internal_error"
            video_id = job.event.video_id if job.event else None
            log.error("%s failed unexpectedly for %s", stage, job.source, exc_info=exc)
        self.hooks.failure(stage, reason)
        if job.published:
            log.error("%s: failure after its outputs were published; none repeated: %s",
                      job.source, exc)
            return
        records = [self._dlq_record(job, stage, exc, reason, video_id)]
        if video_id is None:
            self._publish(job, records)
            return
        decision = unprocessable(reason, f"{type(exc).__name__}: {exc}")
        verdict = self._verdict(job, video_id, decision, {}, keyframes_analyzed=0,
                                duration_s=None)
        self._publish(job, [self._out(job, self.settings.kafka.topics.verdicts, verdict),
                            *records], verdict=decision.verdict,
                      latency=verdict.get("latency_s"))

    def _on_inferred(self, name: str, batch: Batch[int], started: float,
                     result: BatchScores | InferenceError) -> None:
        self.inflight_batches[name] -= 1
        now = self.clock()
        if isinstance(result, InferenceUnavailable):
            self.breaker.failure(now)
            live = Batch(tuple(r for r in batch.rows if r.owner in self.jobs))
            if live.rows:
                self.batchers[name].requeue(live)
            self.retry_at[name] = now + self.backoff.delay(self.retry_attempt[name])
            self.retry_attempt[name] += 1
            self.hooks.failure("inference", "unavailable")
            log.warning("triton unavailable (%s); retrying %d rows", result, len(live))
            return
        self.breaker.success()
        self.retry_attempt[name] = 0
        self.hooks.batch(name, len(batch), self.batchers[name].max_size, now - started)
        for i, row in enumerate(batch.rows):
            job = self.jobs.get(row.owner)
            if job is None:
                continue
            if isinstance(result, InferenceError):
                job.inference_error = result
            else:
                job.scores[name][row.index] = result.scores[i]
                job.versions[name] = result.model_version
            job.rows_left[name] -= 1
            if job.inference_done():
                self._guarded(job, "policy", self._finish)
        if isinstance(result, InferenceError):
            self.hooks.failure("inference", "invalid_output")

    # ----------------------------------------------------------------- inference out
    def _dispatch(self, now: float) -> None:
        limit = self.settings.pipeline.max_inflight_batches
        for name, batcher in self.batchers.items():
            while self.inflight_batches[name] < limit and now >= self.retry_at[name]:
                due = batcher.due_in(now)
                flush = self._stop_requested
                if due is None or (due > 0 and not flush):
                    break
                if not self.breaker.allow(now):
                    break
                batch = batcher.take(now, flush=flush)
                if batch is None:
                    break
                self.inflight_batches[name] += 1
                done = self._completion("inferred", name, batch, now)
                try:
                    self.models[name].infer_async(batch.tensor(), done)
                except Exception as exc:  # a bug at the edge: fail this batch closed
                    done(InferenceError(f"{name}: request not sent: {exc}"))

    # ----------------------------------------------------------------- policy
    def _finish(self, job: VideoJob) -> None:
        assert job.keyframes is not None
        result = assess(job.keyframes, job.scores,
                        {name: client.spec for name, client in self.models.items()},
                        self.settings.policy,
                        inference_error=None if job.inference_error is None
                        else str(job.inference_error))
        assert job.event is not None
        coverage = job.keyframes.coverage.as_json() if job.keyframes.coverage else None
        verdict = self._verdict(job, job.event.video_id, result.decision, job.versions,
                                keyframes_analyzed=len(job.keyframes.pts_s),
                                duration_s=job.keyframes.probe.duration_s, coverage=coverage)
        tags = tags_record(video_id=verdict["video_id"], verdict_id_=verdict["verdict_id"],
                           labels=result.labels, technical=result.technical,
                           source=job.source, run_id=self.settings.pipeline.run_id,
                           processed_at=datetime.now(UTC), coverage=coverage)
        topics = self.settings.kafka.topics
        self._publish(job, [self._out(job, topics.verdicts, verdict),
                            self._out(job, topics.tags, tags)],
                      verdict=result.decision.verdict, latency=verdict.get("latency_s"))

    def _verdict(self, job: VideoJob, video_id: str, decision: Decision,
                 versions: Mapping[str, str], *, keyframes_analyzed: int,
                 duration_s: float | None,
                 coverage: Mapping[str, Any] | None = None) -> dict[str, Any]:
        now = datetime.now(UTC)
        models = {name: versions.get(name, self.models[name].spec.version)
                  for name in self.models}
        uploaded_at = job.event.uploaded_at if job.event else None
        return verdict_record(
            video_id=video_id, decision=decision, source=job.source, models=models,
            policy_version=self.settings.policy.version, run_id=self.settings.pipeline.run_id,
            keyframes_analyzed=keyframes_analyzed, duration_s=duration_s, processed_at=now,
            latency_s=_latency_s(uploaded_at, now), coverage=coverage)

    # ----------------------------------------------------------------- Kafka out
    def _out(self, job: VideoJob, topic: str, record: Mapping[str, Any]) -> Record:
        headers = [("vmc.run_id", self.settings.pipeline.run_id.encode()),
                   ("vmc.source", str(job.source).encode())]
        return (topic, str(record["video_id"]).encode(), encode(record), headers)

    def _dlq_record(self, job: VideoJob, stage: str, error: BaseException, reason: str,
                    video_id: str | None) -> Record:
        """The original bytes, cut to what the producer and the DLQ topic accept."""
        self.hooks.dead_letter(stage)
        job.dead_letter_headers = dlq_headers(
            stage=stage, error=error, reason=reason, attempt=1, source=job.source,
            original=job.headers, run_id=self.settings.pipeline.run_id)
        key = video_id.encode() if video_id is not None else None
        letter = fit_dead_letter(key, job.value, job.dead_letter_headers,
                                 self.dead_letter_limit_bytes)
        if len(letter.value) < len(job.value):
            log.warning("%s: DLQ copy truncated to %d of %d bytes", job.source,
                        len(letter.value), len(job.value))
        return (self.settings.kafka.topics.dlq, letter.key, letter.value, letter.headers)

    def _publish(self, job: VideoJob, records: list[Record], *, verdict: str | None = None,
                 latency: float | None = None) -> None:
        """Hand one event's outputs to the producer, once: a second call is a bug, refused."""
        if job.published:
            log.error("%s: outputs already published; not publishing again", job.source)
            return
        job.published = True
        if verdict is not None:
            self.hooks.verdict(verdict, latency)
        if self.exactly_once:
            self.tracker.done(job.tp, job.source.offset)
            self.eos_ready.append((job.source, records))
            self._forget(job)
            return
        job.acks_left = len(records)
        deliver = self._completion("delivered", job.job_id)
        for topic, key, value, headers in records:
            self._produce(topic, key, value, headers, lambda err, msg: deliver((err, msg)))

    def _produce(self, topic: str, key: bytes | None, value: bytes,
                 headers: list[tuple[str, bytes]], callback: Callable[[Any, Any], None]) -> None:
        from confluent_kafka import KafkaException

        while True:
            try:
                self.producer.produce(topic, key=key, value=value, headers=headers,
                                      on_delivery=callback)
                return
            except BufferError:
                self.producer.poll(0.1)  # local queue full: serve deliveries, then retry
            except KafkaException as exc:  # our own output refused: stop, never skip it
                self._fatal = PublishError(f"cannot produce to {topic}: {exc.args[0]}")
                self.hooks.failure("publish", "produce")
                return

    def _on_delivered(self, job_id: int, report: tuple[Any, Any]) -> None:
        err, msg = report
        job = self.jobs.get(job_id)
        if err is not None and job is not None and self._refit_dead_letter(job, err, msg):
            return
        if err is not None:
            name = err.name() if hasattr(err, "name") else str(err)
            self._fatal = PublishError(f"delivery failed for {job.source if job else job_id}: "
                                       f"{name}: {err}")
            self.hooks.failure("publish", "delivery")
            return
        if job is None:
            return
        job.acks_left -= 1
        if job.acks_left == 0:
            self.tracker.done(job.tp, job.source.offset)
            self._forget(job)

    def _refit_dead_letter(self, job: VideoJob, err: Any, msg: Any) -> bool:
        """The broker refused a DLQ copy as too large (its topic limit is below ours): send
        it again, cut to half the size, a few times before giving up."""
        from confluent_kafka import KafkaError

        too_large = (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE)
        if msg is None or msg.topic() != self.settings.kafka.topics.dlq or \
                err.code() not in too_large or job.dead_letter_headers is None or \
                job.dead_letter_shrinks >= MAX_DEAD_LETTER_SHRINKS:
            return False
        job.dead_letter_shrinks += 1
        limit = max(1, len(msg.value() or b"") + sum(len(v or b"") for _, v in
                                                     msg.headers() or [])) // 2
        letter = fit_dead_letter(msg.key(), job.value, job.dead_letter_headers, limit)
        log.warning("%s: DLQ refused %s; sending %d of %d bytes", job.source, err.name(),
                    len(letter.value), len(job.value))
        deliver = self._completion("delivered", job.job_id)
        self._produce(msg.topic(), letter.key, letter.value, letter.headers,
                      lambda e, m: deliver((e, m)))
        return True

    def _forget(self, job: VideoJob) -> None:
        self.jobs.pop(job.job_id, None)

    def _flush_outputs(self, timeout_s: float) -> None:
        if not self.exactly_once:
            self.producer.flush(timeout_s)
            self._drain_completions()

    # ----------------------------------------------------------------- offsets
    def _commit(self, *, force: bool = False) -> None:
        if self.exactly_once:
            if force:
                self._commit_transaction(force=True)
            return
        now = self.clock()
        if not force and now - self._last_commit < self.settings.pipeline.commit_interval_s:
            return
        self._last_commit = now
        positions = {tp: pos for tp, pos in self.tracker.to_commit().items()
                     if tp in self.assigned}
        if positions:
            self._commit_positions(positions)

    def _commit_positions(self, positions: dict[TopicPartition, int]) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka import TopicPartition as KafkaTP

        try:
            self.consumer.commit(offsets=[KafkaTP(t, p, o) for (t, p), o in positions.items()],
                                 asynchronous=False)
        except KafkaException as exc:
            log.warning("commit failed (will retry): %s", exc)
            return
        self.tracker.mark_committed(positions)

    def _commit_transaction(self, *, force: bool = False) -> None:
        """Exactly-once: produce the finished contiguous prefix and its offsets atomically."""
        from confluent_kafka import KafkaException
        from confluent_kafka import TopicPartition as KafkaTP

        now = self.clock()
        if not force and now - self._last_commit < self.settings.pipeline.commit_interval_s:
            return
        self._last_commit = now
        if self._txn_committing is not None:
            self._finish_commit(self._txn_committing)  # a commit that timed out: retry it
            return
        positions = {tp: pos for tp, pos in self.tracker.to_commit().items()
                     if tp in self.assigned}
        if not positions:
            return
        try:
            self.producer.begin_transaction()
            for src, records in self.eos_ready:
                if _covered(positions, src):
                    for topic, key, value, headers in records:
                        self._produce(topic, key, value, headers, lambda err, msg: None)
            self.producer.send_offsets_to_transaction(
                [KafkaTP(t, p, o) for (t, p), o in positions.items()],
                self.consumer.consumer_group_metadata(), 30)
        except KafkaException as exc:
            self._abort_transaction(exc.args[0])
            return
        self._finish_commit(positions)

    def _finish_commit(self, positions: dict[TopicPartition, int]) -> None:
        from confluent_kafka import KafkaException

        try:
            self.producer.commit_transaction(30)
        except KafkaException as exc:
            error = exc.args[0]
            if error.retriable() and not error.txn_requires_abort() and not error.fatal():
                # It may have committed in the background: retry the same commit, never a
                # new transaction with the same records.
                self._txn_committing = positions
                log.warning("transaction commit not confirmed, retrying: %s", error)
                return
            self._txn_committing = None
            self._abort_transaction(error)
            return
        self._txn_committing = None
        self.eos_ready = [item for item in self.eos_ready if not _covered(positions, item[0])]
        self.tracker.mark_committed(positions)

    def _abort_transaction(self, error: Any) -> None:
        """Abort and keep the finished records for the next transaction; fatal stops us."""
        from confluent_kafka import KafkaException

        if error.fatal():
            self._fatal = PublishError(f"transactional producer fenced or fatal: {error}")
            return
        log.warning("transaction aborted, will retry: %s", error)
        try:
            self.producer.abort_transaction(30)
        except KafkaException as exc:
            if exc.args[0].fatal():
                self._fatal = PublishError(f"transaction abort failed fatally: {exc.args[0]}")
            else:
                log.warning("transaction abort failed, will retry: %s", exc.args[0])

    # ----------------------------------------------------------------- rebalance
    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        tps = {(p.topic, p.partition) for p in partitions}
        self.tracker.revoke(list(tps))  # a partition that comes back starts a fresh window
        self.assigned |= tps
        # Pause state set inside this callback does not survive the assignment that follows
        # it, and an old pause may: the next loop step sets these partitions' state explicitly.
        self.fresh |= tps
        self.paused -= tps
        log.info("assigned %s", sorted(tps))
        self.hooks.assignment(len(self.assigned))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        log.info("revoked %s", sorted(tps))
        if self.exactly_once:
            self._commit_transaction(force=True)
        else:
            self.producer.flush(10)
            self._drain_completions()
        final = self.tracker.revoke(tps)
        if final and not self.exactly_once:
            self._commit_positions(final)
        self._drop(set(tps))
        self.hooks.assignment(len(self.assigned))

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        log.warning("lost %s: dropping their work without committing", sorted(tps))
        self.tracker.revoke(tps)
        self._drop(set(tps))

    def _drop(self, tps: set[TopicPartition]) -> None:
        gone = {jid for jid, job in self.jobs.items() if job.tp in tps}
        for jid in gone:
            job = self.jobs[jid]
            if job.decode is not None:
                job.decode.cancel()
            self._forget(job)
        for batcher in self.batchers.values():
            batcher.drop(gone)
        self.eos_ready = [(s, r) for s, r in self.eos_ready if (s.topic, s.partition) not in tps]
        self.assigned -= tps
        self.paused -= tps

    # ----------------------------------------------------------------- backpressure
    def _triton_out(self) -> bool:
        """Open breaker, or half-open with work to try; half-open and idle lets events in,
        or no trial call could ever be made."""
        state = self.breaker.state(self.clock())
        if state is BreakerState.OPEN:
            return True
        busy = any(self.batchers.values()) or any(self.inflight_batches.values())
        return state is BreakerState.HALF_OPEN and busy

    def _should_pause_all(self) -> bool:
        over = self.inflight() >= self.settings.pipeline.max_inflight_videos
        return self._stop_requested or over or self._triton_out()

    def _apply_backpressure(self) -> None:
        """Pause everything while over the bound, Triton is out, or we are stopping."""
        from confluent_kafka import TopicPartition as KafkaTP

        pipe = self.settings.pipeline
        inflight = self.inflight()
        triton_out = self._triton_out()
        if self._should_pause_all():
            want_paused = set(self.assigned)
        elif inflight <= pipe.max_inflight_videos * pipe.resume_ratio:
            want_paused = set()
        else:
            want_paused = self.paused & self.assigned
        want_paused |= self.finished & self.assigned
        fresh, self.fresh = self.fresh & self.assigned, set()
        to_pause = (want_paused - self.paused) | (fresh & want_paused)
        to_resume = (self.paused - want_paused) | (fresh - want_paused)
        if to_pause:
            self.consumer.pause([KafkaTP(t, p) for t, p in sorted(to_pause)])
            log.info("paused %d partitions", len(to_pause),
                     extra={"inflight": inflight, "triton_out": triton_out})
        if to_resume:
            self.consumer.resume([KafkaTP(t, p) for t, p in sorted(to_resume)])
            log.info("resumed %d partitions", len(to_resume), extra={"inflight": inflight})
        self.paused = want_paused
