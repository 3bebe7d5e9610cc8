"""Rows of many videos, batched per model and sent to Triton without blocking the loop.

One micro-batcher per model (rows from any video, sent when full or at its deadline), a limit
on batches in flight per model, and one circuit breaker for Triton: an unreachable server
requeues the batch's rows, backs that model off, and after enough failures opens the breaker
(the loop then pauses intake). Nothing here decides a video's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from consumer.errors import InferenceError, InferenceUnavailable
from consumer.inference.batcher import Batch, MicroBatcher
from consumer.inference.breaker import Backoff, BreakerState, CircuitBreaker
from consumer.inference.triton_client import BatchScores
from consumer.pipeline.completions import Completions, Inferred
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.ports import ModelClient
from consumer.pixels import Pixels
from consumer.settings import Settings

log = logging.getLogger("consumer.pipeline")


class ModelBatches:
    """Per-model batchers, in-flight limits, retry backoff and the Triton breaker."""

    def __init__(self, models: Mapping[str, ModelClient], settings: Settings,
                 completions: Completions, hooks: PipelineHooks) -> None:
        pipe, triton = settings.pipeline, settings.triton
        self.models = models
        self.completions = completions
        self.hooks = hooks
        self.max_inflight = pipe.max_inflight_batches
        max_rows = pipe.max_inflight_videos * settings.decode.max_keyframes
        self.batchers: dict[str, MicroBatcher[int]] = {
            name: MicroBatcher(min(pipe.batch_max_size, c.spec.max_batch_size),
                               pipe.batch_deadline_ms / 1000, max(max_rows, pipe.batch_max_size))
            for name, c in models.items()
        }
        self.inflight = dict.fromkeys(models, 0)
        self.retry_at = dict.fromkeys(models, 0.0)
        self.retry_attempt = dict.fromkeys(models, 0)
        self.breaker = CircuitBreaker(triton.breaker_failures, triton.breaker_reset_s)
        self.backoff = Backoff(triton.retry_base_s, triton.retry_cap_s)

    def has_room(self, rows: Mapping[str, int]) -> bool:
        return all(self.batchers[name].has_room(count) for name, count in rows.items())

    def add(self, model: str, job_id: int, frames: Pixels, now: float) -> None:
        self.batchers[model].add(job_id, frames, now)

    def due_in(self, now: float) -> float | None:
        """Seconds until the next batch may go out (0: now), None when nothing is queued;
        a model backing off or an open breaker is not due, or the loop would spin."""
        due = [max(d, self.retry_at[name] - now, self.breaker.closed_for(now))
               for name, b in self.batchers.items() if (d := b.due_in(now)) is not None]
        return min(due) if due else None

    def drop(self, job_ids: set[int]) -> None:
        for batcher in self.batchers.values():
            batcher.drop(job_ids)

    def triton_out(self, now: float) -> bool:
        """Open breaker, or half-open with work to try; half-open and idle lets events in,
        or no trial call could ever be made."""
        state = self.breaker.state(now)
        if state is BreakerState.OPEN:
            return True
        busy = any(self.batchers.values()) or any(self.inflight.values())
        return state is BreakerState.HALF_OPEN and busy

    def dispatch(self, now: float, *, flush: bool) -> None:
        """Send every due batch the limits, the backoff and the breaker allow."""
        for name, batcher in self.batchers.items():
            while self.inflight[name] < self.max_inflight and now >= self.retry_at[name]:
                due = batcher.due_in(now)
                if due is None or (due > 0 and not flush) or not self.breaker.allow(now):
                    break
                batch = batcher.take(now, flush=flush)
                if batch is None:
                    break
                self.inflight[name] += 1
                done = self._callback(name, batch, now)
                try:
                    self.models[name].infer_async(batch.pixels(), done)
                except Exception as exc:  # a bug at the edge: fail this batch closed
                    done(InferenceError(f"{name}: request not sent: {exc}"))

    def _callback(self, name: str, batch: Batch[int],
                  sent_at: float) -> Callable[[BatchScores | InferenceError], None]:
        return lambda result: self.completions.put(Inferred(name, batch, sent_at, result))

    def settle(self, done: Inferred, now: float, alive: Callable[[int], bool]) -> bool:
        """Account for one answered batch; False when Triton was unavailable and its live
        rows were queued again (nothing to apply to the videos)."""
        name = done.model
        self.inflight[name] -= 1
        if isinstance(done.result, InferenceUnavailable):
            self.breaker.failure(now)
            live = Batch(tuple(r for r in done.batch.rows if alive(r.owner)))
            if live.rows:
                self.batchers[name].requeue(live)
            self.retry_at[name] = now + self.backoff.delay(self.retry_attempt[name])
            self.retry_attempt[name] += 1
            self.hooks.failure("inference", "unavailable")
            log.warning("triton unavailable (%s); retrying %d rows", done.result, len(live))
            return False
        self.breaker.success()
        self.retry_attempt[name] = 0
        self.hooks.batch(name, len(done.batch), self.batchers[name].max_size, now - done.sent_at)
        if isinstance(done.result, InferenceError):
            self.hooks.failure("inference", "invalid_output")
        return True
