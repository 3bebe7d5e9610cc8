from __future__ import annotations

import pytest

from consumer.pipeline.ratelimit import TokenBucket


def test_bucket_allows_the_rate_over_time_and_no_more() -> None:
    bucket = TokenBucket(rate_per_s=10, now=0.0)
    taken = 0
    for step in range(1, 101):  # 10 seconds in 0.1 s steps
        now = step / 10
        allowed = bucket.available(now)
        bucket.take(allowed, now)
        taken += allowed
    assert 100 <= taken <= 110  # 10/s for 10 s, plus the initial burst


def test_unused_time_saves_at_most_a_burst() -> None:
    bucket = TokenBucket(rate_per_s=5, burst=5, now=0.0)
    assert bucket.available(100.0) == 5


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate_per_s=0)
