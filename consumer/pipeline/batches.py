"""Rows of many videos, batched per model and sent to Triton without blocking the loop.

One micro-batcher per model (rows from any video, sent when full or at its deadline), a limit
on batches in flight per model, and one circuit breaker for Triton: an unreachable server
requeues the batch's rows, backs that model off, and after enough failures opens the breaker
(the loop then pauses intake).

A request that timed out is told apart from an outage by evidence that Triton is alive: an
answer to any batch after it was sent, or else a health probe (on a thread of its own) asked
now. Alive, the timeout is the rows' cost: each video in the batch is isolated (its rows then
go out alone, one isolated batch of a model at a time, so it cannot take others down with it
again) and, after `triton.video_attempts` timeouts, given up for that model: the spine makes
that video's outcome `review` (model_budget_exceeded). Not alive, it is an outage as above.
Nothing here decides a video's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from consumer.errors import (
    InferenceError,
    InferenceTimeout,
    InferenceUnavailable,
    ModelBudgetExceeded,
)
from consumer.inference.batcher import Batch, MicroBatcher
from consumer.inference.breaker import Backoff, BreakerState, CircuitBreaker
from consumer.inference.triton_client import BatchScores
from consumer.pipeline.completions import Completions, Inferred, Probed
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.ports import ModelClient
from consumer.pipeline.probe import HealthProbe
from consumer.pixels import Pixels
from consumer.settings import Settings

log = logging.getLogger("consumer.pipeline")


@dataclass(frozen=True)
class GivenUp:
    """A video whose rows of `model` kept timing out while Triton was alive."""

    owner: int
    model: str
    error: ModelBudgetExceeded


class ModelBatches:
    """Per-model batchers, in-flight limits, retry backoff, the Triton breaker, and the
    per-video budget on timeouts."""

    def __init__(self, models: Mapping[str, ModelClient], settings: Settings,
                 completions: Completions, hooks: PipelineHooks) -> None:
        pipe, triton = settings.pipeline, settings.triton
        self.models = models
        self.completions = completions
        self.hooks = hooks
        self.max_inflight = pipe.max_inflight_batches
        self.video_attempts = triton.video_attempts
        self.timeout_s = triton.timeout_s
        max_rows = pipe.max_inflight_videos * settings.sampling.max_keyframes
        self.batchers: dict[str, MicroBatcher[int]] = {
            name: MicroBatcher(min(pipe.batch_max_size, c.spec.max_batch_size),
                               pipe.batch_deadline_ms / 1000, max(max_rows, pipe.batch_max_size))
            for name, c in models.items()
        }
        self.inflight = dict.fromkeys(models, 0)
        self.solo_out = dict.fromkeys(models, False)  # an isolated video's batch in flight
        self.retry_at = dict.fromkeys(models, 0.0)
        self.retry_attempt = dict.fromkeys(models, 0)
        self.breaker = CircuitBreaker(triton.breaker_failures, triton.breaker_reset_s)
        self.backoff = Backoff(triton.retry_base_s, triton.retry_cap_s)
        self.alive_at = float("-inf")  # when Triton was last seen answering
        self.suspects: dict[str, list[Inferred]] = {name: [] for name in models}
        self.timeouts: dict[tuple[str, int], int] = {}  # (model, video): timeouts blamed
        self.probes = {name: HealthProbe(name, c.ready, completions.put)
                       for name, c in models.items()}

    def has_room(self, rows: Mapping[str, int]) -> bool:
        return all(self.batchers[name].has_room(count) for name, count in rows.items())

    def add(self, model: str, job_id: int, frames: Pixels, now: float) -> None:
        self.batchers[model].add(job_id, frames, now)

    def due_in(self, now: float) -> float | None:
        """Seconds until the next batch may go out (0: now), None when nothing is queued;
        a model backing off or an open breaker is not due, or the loop would spin."""
        due = [max(d, self.retry_at[name] - now, self.breaker.closed_for(now))
               for name, b in self.batchers.items()
               if (d := b.due_in(now, solo=not self.solo_out[name])) is not None]
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
                solo = not self.solo_out[name]
                due = batcher.due_in(now, solo=solo)
                if due is None or (due > 0 and not flush) or not self.breaker.allow(now):
                    break
                batch = batcher.take(now, flush=flush, solo=solo)
                if batch is None:
                    break
                self.inflight[name] += 1
                self.solo_out[name] |= batch.solo
                done = self._callback(name, batch, now)
                try:
                    self.models[name].infer_async(batch.pixels(), done)
                except Exception as exc:  # a bug at the edge: fail this batch closed
                    done(InferenceError(f"{name}: request not sent: {exc}"))

    def _callback(self, name: str, batch: Batch[int],
                  sent_at: float) -> Callable[[BatchScores | InferenceError], None]:
        return lambda result: self.completions.put(Inferred(name, batch, sent_at, result))

    def settle(self, done: Inferred, now: float,
               alive: Callable[[int], bool]) -> tuple[bool, list[GivenUp]]:
        """Account for one answered batch: whether its results apply to the videos (False:
        its rows were queued again or wait for a probe), and the videos given up."""
        name = done.model
        self.inflight[name] -= 1
        if done.batch.solo:
            self.solo_out[name] = False
        if isinstance(done.result, InferenceTimeout):
            if self.alive_at > done.sent_at:
                return False, self._blame(done, alive)
            self.suspects[name].append(done)  # alive or not? ask, and decide on the answer
            self.probes[name].request()
            return False, []
        if isinstance(done.result, InferenceUnavailable):
            self._outage(done, now, alive)
            return False, []
        self.alive_at = now
        self.breaker.success()
        self.retry_attempt[name] = 0
        self.hooks.batch(name, len(done.batch), self.batchers[name].max_size, now - done.sent_at)
        if isinstance(done.result, InferenceError):
            self.hooks.failure("inference", "invalid_output")
        return True, []

    def probed(self, probe: Probed, now: float, alive: Callable[[int], bool]) -> list[GivenUp]:
        """A health probe answered: the timed-out batches waiting on it are the rows' cost
        (Triton alive) or an outage."""
        waiting, self.suspects[probe.model] = self.suspects[probe.model], []
        given_up: list[GivenUp] = []
        if probe.alive:
            self.alive_at = max(self.alive_at, now)
        for done in waiting:
            if probe.alive:
                given_up += self._blame(done, alive)
            else:
                self._outage(done, now, alive)
        return given_up

    def _outage(self, done: Inferred, now: float, alive: Callable[[int], bool]) -> None:
        name = done.model
        self.breaker.failure(now)
        live = Batch(tuple(r for r in done.batch.rows if alive(r.owner)))
        if live.rows:
            self.batchers[name].requeue(live)
        self.retry_at[name] = now + self.backoff.delay(self.retry_attempt[name])
        self.retry_attempt[name] += 1
        self.hooks.failure("inference", "unavailable")
        log.warning("triton unavailable (%s); retrying %d rows", done.result, len(live))

    def _blame(self, done: Inferred, alive: Callable[[int], bool]) -> list[GivenUp]:
        """Triton is alive, so the batch's rows cost more than the timeout: count a timeout
        for each of its videos, give up those out of attempts, isolate and retry the rest."""
        name = done.model
        self.breaker.success()  # Triton is alive: a half-open breaker's trial is over
        self.timeouts = {key: n for key, n in self.timeouts.items() if alive(key[1])}
        live = [r for r in done.batch.rows if alive(r.owner)]
        given_up: list[GivenUp] = []
        for owner in dict.fromkeys(r.owner for r in live):
            count = self.timeouts[(name, owner)] = self.timeouts.get((name, owner), 0) + 1
            if count >= self.video_attempts:
                self.batchers[name].drop({owner})
                given_up.append(GivenUp(owner, name, ModelBudgetExceeded(
                    f"{name}: no answer within triton.timeout_s={self.timeout_s:g} s, "
                    f"{count} times, while Triton answered")))
            else:
                self.batchers[name].isolate(owner)
        out = {g.owner for g in given_up}
        retried = Batch(tuple(r for r in live if r.owner not in out))
        if retried.rows:
            self.batchers[name].requeue(retried)
        self.hooks.failure("inference", "timeout")
        log.warning("%s: batch of %d rows timed out while Triton answered; %d videos retried "
                    "alone, %d given up", name, len(done.batch),
                    len({r.owner for r in retried.rows}), len(given_up))
        return given_up
