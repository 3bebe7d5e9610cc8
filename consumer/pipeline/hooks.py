"""Observation points of the spine: metrics, health and replay progress subclass these.

Here, in the spine's own package, so observers import the spine and never the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping

from consumer.inference.breaker import BreakerState


class PipelineHooks:
    """Called on the loop's thread; the default does nothing."""

    def event(self, outcome: str) -> None: ...
    def verdict(self, verdict: str, latency_s: float | None) -> None: ...
    def failure(self, stage: str, reason: str) -> None: ...
    def dead_letter(self, stage: str) -> None: ...
    def keyframes_decoded(self, count: int, decode_s: float) -> None: ...
    def decoded_on(self, device: str, fallback: str | None) -> None: ...
    def batch(self, model: str, size: int, capacity: int, seconds: float) -> None: ...
    def loop(self, inflight: int, paused: int, breaker: BreakerState) -> None: ...
    def assignment(self, partitions: int) -> None: ...
    def signal_time(self, signal: str, seconds: float) -> None: ...
    def signal_match(self, signal: str, match: str) -> None:
        """A signal matched something (a list, a rule, a catalogue) in one video."""

    def signal_reason(self, signal: str, action: str) -> None:
        """A signal gave one reason with this action for a verdict."""
    def review_task(self, sampled: str) -> None:
        """A verdict became a review task (`review`, `audit_allow`, `audit_block`)."""
    def record_truncated(self, topic_kind: str, cut: Mapping[str, int]) -> None:
        """An output record was cut to fit its topic: `cut` counts what, per field."""
