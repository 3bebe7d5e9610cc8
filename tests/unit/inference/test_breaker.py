from __future__ import annotations

import random

from consumer.inference.breaker import Backoff, BreakerState, CircuitBreaker


def test_breaker_opens_after_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_s=5)
    for t in range(2):
        breaker.failure(now=t)
        assert breaker.allow(now=t)
    breaker.failure(now=2)
    assert breaker.state(now=2) is BreakerState.OPEN
    assert not breaker.allow(now=3)


def test_half_open_allows_one_trial_and_success_closes() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=5)
    breaker.failure(now=0)
    assert breaker.allow(now=5)
    assert not breaker.allow(now=5.1)
    breaker.success()
    assert breaker.state(now=6) is BreakerState.CLOSED
    assert breaker.allow(now=6)


def test_failed_trial_reopens_for_another_period() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=5)
    breaker.failure(now=0)
    assert breaker.allow(now=6)
    breaker.failure(now=6)
    assert breaker.state(now=10) is BreakerState.OPEN
    assert breaker.state(now=11) is BreakerState.HALF_OPEN


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_s=5)
    breaker.failure(now=0)
    breaker.success()
    breaker.failure(now=1)
    assert breaker.state(now=1) is BreakerState.CLOSED


def test_backoff_is_jittered_within_an_exponential_cap() -> None:
    backoff = Backoff(base_s=0.1, cap_s=1.0, rng=random.Random(1))
    delays = [backoff.delay(n) for n in range(8) for _ in range(50)]
    assert all(0 <= d <= 1.0 for d in delays)
    assert max(backoff.delay(0) for _ in range(200)) <= 0.1
    assert len({round(d, 6) for d in delays}) > 100


def test_backoff_survives_a_very_long_outage() -> None:
    assert 0 <= Backoff(base_s=0.1, cap_s=5.0).delay(5000) <= 5.0
