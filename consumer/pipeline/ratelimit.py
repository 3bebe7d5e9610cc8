"""A token bucket: `--rate N` lets a replay take at most N events per second. Pure."""

from __future__ import annotations


class TokenBucket:
    """`rate_per_s` tokens a second, at most `burst` saved up; the clock is passed in."""

    def __init__(self, rate_per_s: float, burst: float | None = None, now: float = 0.0) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate must be positive")
        self.rate_per_s = rate_per_s
        self.burst = burst if burst is not None else max(1.0, rate_per_s)
        self._tokens = self.burst
        self._at = now

    def available(self, now: float) -> int:
        """Whole events that may be taken now."""
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now
        return int(self._tokens)

    def take(self, count: int, now: float) -> None:
        self.available(now)
        self._tokens -= count
