"""The always-on pipeline: one explicit loop, nothing blocking for longer than a poll.

poll -> parse -> decode (worker processes) -> cross-video micro-batches -> async Triton ->
policy -> produce -> watermark commit. Completions from workers and gRPC threads arrive on one
queue and are applied on the loop's thread, so all state has a single owner. The loop only
calls its collaborators: `ModelBatches` (batches, breaker), `Outcomes` (verdicts, DLQ),
`Delivery` (at-least-once or exactly-once) and `Partitions` (rebalance, backpressure).

Any exception raised while parsing or handling one event becomes that event's outcome in
`Outcomes` (a DLQ copy, and an `unprocessable` verdict when it names a video), never the
process's exit. An unreachable Triton opens the breaker, pauses every partition and retries
(no offset advances); unusable model outputs fail closed to `review`; a failed delivery of our
own output stops the consumer (never DLQ).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
from confluent_kafka import Message
from confluent_kafka import TopicPartition as KafkaTP

from consumer.errors import ConsumerError, InferenceError, PublishError
from consumer.events import SourceRef, parse_upload_event
from consumer.media import ExtractorClosed, ExtractorQueueFull, NoKeyframes, ResizeSpec
from consumer.pipeline.batches import GivenUp, ModelBatches
from consumer.pipeline.completions import Completions, Decoded, Inferred, Matched, Probed
from consumer.pipeline.delivery import DeliveryContext, delivery_for
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.jobs import Jobs, VideoJob
from consumer.pipeline.judge import Judge
from consumer.pipeline.kafka_clients import LIBRDKAFKA_MESSAGE_MAX_BYTES
from consumer.pipeline.matching import Matcher
from consumer.pipeline.outcomes import Outcomes
from consumer.pipeline.partitions import Partitions
from consumer.pipeline.ports import (
    Extractor,
    KafkaConsumer,
    KafkaProducer,
    ModelClient,
    message_headers,
)
from consumer.pipeline.ratelimit import TokenBucket
from consumer.pipeline.replay import Window
from consumer.pipeline.watermarks import Watermarks
from consumer.publishing.limits import RecordLimits
from consumer.publishing.outputs import OutputRecords
from consumer.review.records import ReviewTasks
from consumer.settings import Settings
from consumer.signals import Signal, instances

log = logging.getLogger("consumer.pipeline")

RESUBMIT_DELAY_S = 0.5
MAX_POLL_BATCH = 64


class Pipeline:
    """Owns the loop; build it with the edges (Kafka clients, extractor, model clients)."""

    def __init__(
        self,
        settings: Settings,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        extractor: Extractor,
        models: Sequence[ModelClient],
        *,
        hooks: PipelineHooks | None = None,
        clock: Callable[[], float] = time.monotonic,
        window: Window | None = None,
        max_events_per_s: float | None = None,
        limits: RecordLimits | None = None,
        signals: Sequence[Signal] | None = None,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.extractor = extractor
        self.models = {client.spec.name: client for client in models}
        self.hooks = hooks or PipelineHooks()
        self.clock = clock
        self.window = window
        self.resize_specs = {name: ResizeSpec.of(c.spec) for name, c in self.models.items()}
        self.jobs = Jobs()
        self.watermarks = Watermarks()
        self.completions = Completions()
        self.batches = ModelBatches(self.models, settings, self.completions, self.hooks)
        self.partitions = Partitions(consumer, self.watermarks, self.jobs, self.hooks,
                                     on_drop=self.batches.drop)
        self.delivery = delivery_for(settings.pipeline.delivery, DeliveryContext(
            consumer, producer, self.watermarks, self.jobs,
            assigned=lambda: self.partitions.assigned, dlq_topic=settings.kafka.topics.dlq,
            commit_interval_s=settings.pipeline.commit_interval_s, clock=clock,
            hooks=self.hooks))
        self.partitions.delivery = self.delivery
        outputs = OutputRecords(
            settings.kafka.topics, run_id=settings.pipeline.run_id,
            policy_version=settings.policy.version,
            model_versions={name: c.spec.version for name, c in self.models.items()},
            limits=limits or RecordLimits.uniform(LIBRDKAFKA_MESSAGE_MAX_BYTES),
            on_truncated=self.hooks.record_truncated)
        if signals is None:  # every registered signal, with nothing loaded (tests, fakes)
            signals = instances(settings)
        judge = Judge(signals, settings.policy, {name: c.spec for name, c in self.models.items()},
                      outputs, self.hooks)
        self.outcomes = Outcomes(outputs, self.delivery, self.hooks, judge, review=ReviewTasks(
            settings.review, settings.kafka.topics.review, run_id=settings.pipeline.run_id,
            limit_bytes=outputs.limits.tags_bytes))
        self.matcher = Matcher(signals)
        self.rate = TokenBucket(max_events_per_s, now=clock()) if max_events_per_s else None
        self.resubmit: deque[tuple[float, int]] = deque()
        self.waiting_rows: deque[int] = deque()
        self._stop_deadline: float | None = None
        self.last_loop_at = clock()

    # ----------------------------------------------------------------- lifecycle
    @property
    def stopping(self) -> bool:
        return self._stop_deadline is not None

    def request_stop(self) -> None:
        """SIGTERM: stop taking events, drain in-flight work within the grace period."""
        if self._stop_deadline is None:
            self._stop_deadline = self.clock() + self.settings.pipeline.shutdown_grace_s
            log.info("stop requested: draining", extra={"inflight": len(self.jobs)})

    def start(self) -> None:
        """Check the topics, set up delivery, join the group (or assign a replay's window)."""
        self._check_topics()
        self.delivery.begin()
        if self.window is None:
            self.consumer.subscribe([self.settings.kafka.topics.input],
                                    on_assign=self.partitions.on_assign,
                                    on_revoke=self.partitions.on_revoke,
                                    on_lost=self.partitions.on_lost)
        else:
            starts = [KafkaTP(t, p, o) for (t, p), o in sorted(self.window.start.items())]
            self.consumer.assign(starts)
            self.partitions.on_assign(self.consumer, starts)

    def run(self, until: Callable[[Pipeline], bool] | None = None) -> int:
        """Loop until stopped (0), until `until` holds (0), or a fatal error (1)."""
        self.start()
        try:
            while self.delivery.fatal is None:
                self.step()
                if until is not None and until(self):
                    break
                if self.window is not None and self.window_done():
                    log.info("window done: every partition reached its end offset")
                    break
                if self.stopping and (not self.inflight() or self._grace_over()):
                    break
        finally:
            self.close()
        if self.delivery.fatal is not None:
            log.error("stopped on a fatal error: %s", self.delivery.fatal)
            return 1
        return 0

    def close(self) -> None:
        """Deliver and commit what is finished (unless delivery failed), leave the group."""
        if self.delivery.fatal is None:
            self.delivery.close()
        remaining = len(self.jobs)
        self.matcher.close()
        self.consumer.close()
        log.info("consumer closed", extra={"unfinished": remaining})

    def _grace_over(self) -> bool:
        return self._stop_deadline is not None and self.clock() >= self._stop_deadline

    def step(self) -> None:
        """One turn of the loop: poll, apply completions, dispatch batches, commit."""
        now = self.clock()
        self.last_loop_at = now
        self._poll(self._poll_timeout(now))
        self._retry(now)
        self._apply_completions()
        self.batches.dispatch(self.clock(), flush=self.stopping)
        self.delivery.poll()
        self._apply_completions()
        self.delivery.commit()
        self._apply_backpressure()
        self.hooks.loop(self.inflight(), len(self.partitions.paused),
                        self.batches.breaker.state(self.clock()))

    def inflight(self) -> int:
        """Videos not yet committed: in progress, or finished and awaiting their transaction."""
        return len(self.jobs) + self.delivery.awaiting()

    def window_done(self) -> bool:
        assert self.window is not None
        return self.window.done(self.watermarks) and not self.delivery.awaiting()

    # ----------------------------------------------------------------- Kafka in
    def _check_topics(self) -> None:
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
        if self.stopping or not self.inflight():
            return 0.2
        due = self.batches.due_in(now)
        return 0.05 if due is None else min(0.05, due)

    def _poll(self, timeout_s: float) -> None:
        room = self.settings.pipeline.max_inflight_videos - self.inflight()
        if self.rate is not None:
            room = min(room, self.rate.available(self.clock()))
        if self.stopping or room <= 0:
            # Partitions are (being) paused; poll serves rebalances and heartbeats. A message
            # fetched before the pause took effect is still taken: skipping it while a later
            # offset completes would let the watermark pass it.
            messages = [m for m in [self.consumer.poll(timeout_s)] if m is not None]
        else:
            messages = self.consumer.consume(num_messages=min(room, MAX_POLL_BATCH),
                                             timeout=timeout_s)
        if self.rate is not None and messages:
            self.rate.take(len(messages), self.clock())
        for msg in messages:
            if msg.error() is not None:
                log.warning("consumer error: %s", msg.error())
                continue
            source = SourceRef(msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
            tp = (source.topic, source.partition)
            if tp not in self.partitions.assigned:
                continue  # fetched before a revoke took effect: the new owner reads it
            if self.window is not None:
                place = self.window.place(tp, source.offset, msg.timestamp()[1])
                if place == "past_end":
                    self.partitions.finished.add(tp)
                    continue
                if place == "outside_time":
                    self.watermarks.start(tp, source.offset)
                    self.watermarks.done(tp, source.offset)
                    self.hooks.event("skipped")
                    continue
            self._accept(source, msg)

    def _accept(self, source: SourceRef, msg: Message) -> None:
        job = self.jobs.new(source, msg.value() or b"", message_headers(msg), self.clock())
        self.watermarks.start(job.tp, source.offset)
        try:
            job.event = parse_upload_event(
                msg.value(), job.headers,
                allowed_schemes=set(self.settings.source.allowed_schemes),
                max_bytes=self.settings.pipeline.max_event_bytes)
        except Exception as exc:  # InvalidEvent by contract; anything else is still this event's
            self.outcomes.reject(job, "parse", exc)
            return
        self.hooks.event("accepted")
        self.outcomes.guarded(job, "decode", self._submit)

    def _submit(self, job: VideoJob) -> None:
        """Hand the video to the decode workers; capacity errors retry, never fail the video."""
        assert job.event is not None
        try:
            future = self.extractor.submit(job.event.uri, list(self.resize_specs.values()))
        except (ExtractorQueueFull, ExtractorClosed) as exc:
            self._on_capacity_error(job, exc)
            return
        job.decode = future
        future.add_done_callback(lambda done: self.completions.put(Decoded(job.job_id, done)))

    def _on_capacity_error(self, job: VideoJob, exc: ConsumerError) -> None:
        """Our own limits, not the video's fault: retry later (closed: leave it uncommitted)."""
        if isinstance(exc, ExtractorQueueFull):
            self.resubmit.append((self.clock() + RESUBMIT_DELAY_S, job.job_id))
        log.warning("decode capacity: %s (%s stays pending)", exc, job.source)

    def _retry(self, now: float) -> None:
        """Submits refused for capacity, and decoded videos that found the batchers full."""
        while self.resubmit and self.resubmit[0][0] <= now:
            job = self.jobs.get(self.resubmit.popleft()[1])
            if job is not None:
                self.outcomes.guarded(job, "decode", self._submit)
        for _ in range(len(self.waiting_rows)):
            job = self.jobs.get(self.waiting_rows.popleft())
            if job is not None:
                self.outcomes.guarded(job, "decode", self._queue_rows)

    # ----------------------------------------------------------------- completions
    def _apply_completions(self) -> None:
        for completion in self.completions.drain():
            if isinstance(completion, Decoded):
                self._on_decoded(completion)
            elif isinstance(completion, Matched):
                self._on_matched(completion)
            elif isinstance(completion, Probed):
                self._give_up(self.batches.probed(completion, self.clock(),
                                                  alive=self.jobs.__contains__))
            else:
                self._on_inferred(completion)

    def _on_decoded(self, done: Decoded) -> None:
        job = self.jobs.get(done.job_id)
        if job is None or done.future.cancelled():
            return
        try:
            keyframes = done.future.result()
        except (ExtractorQueueFull, ExtractorClosed) as exc:
            self._on_capacity_error(job, exc)
            return
        except Exception as exc:
            self.outcomes.reject(job, "media", exc)
            return
        if not keyframes.pts_s:
            self.outcomes.reject(job, "media", NoKeyframes("decoder returned no keyframe"))
            return
        job.keyframes = keyframes
        self.hooks.keyframes_decoded(len(keyframes.pts_s), self.clock() - job.received_at)
        self.hooks.decoded_on(keyframes.device, keyframes.fallback)
        self.matcher.submit(keyframes, lambda future: self.completions.put(
            Matched(job.job_id, future)))
        self.outcomes.guarded(job, "decode", self._queue_rows)

    def _on_matched(self, done: Matched) -> None:
        job = self.jobs.get(done.job_id)
        if job is None or done.future.cancelled():
            return
        try:
            job.matches = done.future.result()
        except Exception as exc:  # one video's matching failed: its outcome, nobody else's
            self.outcomes.reject(job, "policy", exc)
            return
        if job.ready():
            self.outcomes.guarded(job, "policy", self.outcomes.finish)

    def _queue_rows(self, job: VideoJob) -> None:
        """Queue every model's rows of a decoded video, or retry later if a batcher is full."""
        assert job.keyframes is not None
        frames = {name: job.keyframes.frames[spec] for name, spec in self.resize_specs.items()}
        if not self.batches.has_room({name: len(rows) for name, rows in frames.items()}):
            self.waiting_rows.append(job.job_id)
            return
        now = self.clock()
        for name, rows in frames.items():
            job.scores[name] = np.full((len(rows), len(self.models[name].spec.labels)),
                                       np.nan, np.float32)
            job.rows_left[name] = len(rows)
            self.batches.add(name, job.job_id, rows, now)

    def _on_inferred(self, done: Inferred) -> None:
        applies, given_up = self.batches.settle(done, self.clock(), alive=self.jobs.__contains__)
        self._give_up(given_up)
        if not applies:
            return
        result = done.result
        for i, row in enumerate(done.batch.rows):
            job = self.jobs.get(row.owner)
            if job is None or done.model in job.given_up:
                continue
            if isinstance(result, InferenceError):
                job.inference_error = result
            else:
                job.scores[done.model][row.index] = result.scores[i]
                job.versions[done.model] = result.model_version
                job.keep_extras(done.model, row.index, result, i)
            job.rows_left[done.model] -= 1
            if job.ready():
                self.outcomes.guarded(job, "policy", self.outcomes.finish)

    def _give_up(self, given_up: list[GivenUp]) -> None:
        """Videos whose rows of a model cost more than its timeout: done with that model (its
        other rows were dropped), judged on what the other models saw."""
        for gone in given_up:
            job = self.jobs.get(gone.owner)
            if job is None or gone.model in job.given_up:
                continue
            job.given_up[gone.model] = str(gone.error)
            job.rows_left[gone.model] = 0
            log.warning("%s: %s", job.source, gone.error)
            if job.ready():
                self.outcomes.guarded(job, "policy", self.outcomes.finish)

    # ----------------------------------------------------------------- backpressure
    def _apply_backpressure(self) -> None:
        """Pause everything while over the bound, Triton is out, or we are stopping."""
        pipe = self.settings.pipeline
        inflight = self.inflight()
        triton_out = self.batches.triton_out(self.clock())
        self.partitions.apply(
            pause_all=self.stopping or triton_out or inflight >= pipe.max_inflight_videos,
            resume=inflight <= pipe.max_inflight_videos * pipe.resume_ratio,
            why={"inflight": inflight, "triton_out": triton_out})
