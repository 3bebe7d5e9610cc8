"""Circuit breaker and jittered backoff for the inference server. Pure: clock passed in.

When Triton is down, hammering it helps nobody and every retry burns a batch's latency. After
`failure_threshold` consecutive failures the breaker opens: the pipeline pauses its partitions
and sends nothing until `reset_s` has passed; then one trial call decides (half-open).
"""

from __future__ import annotations

import random
from enum import Enum


class BreakerState(Enum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 3, reset_s: float = 5.0) -> None:
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_out = False

    def state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if now - self._opened_at >= self.reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def closed_for(self, now: float) -> float:
        """Seconds until a trial call may go out (0 unless open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_s - now)

    def allow(self, now: float) -> bool:
        """May a call go out now? In half-open, only one trial at a time."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_out = False

    def failure(self, now: float) -> None:
        self._failures += 1
        self._trial_out = False
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = now


class Backoff:
    """Exponential backoff with full jitter: delay n is uniform in [0, min(cap, base * 2**n)]."""

    def __init__(self, base_s: float = 0.1, cap_s: float = 5.0,
                 rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        exponent = min(max(attempt, 0), 30)  # 2**1024 would overflow a float
        return self._rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** exponent))
