"""The project's error family. Third-party errors are converted once, at the edge, into these;
the pipeline maps each class to one outcome (DLQ, `unprocessable` verdict, retry, pause, stop).
"""

from __future__ import annotations

from typing import ClassVar


class ConsumerError(Exception):
    """Base of every error this project raises on purpose."""


class EventError(ConsumerError):
    """An input event is malformed or invalid: it goes to the DLQ untouched."""


class MediaError(ConsumerError):
    """A video cannot be opened, probed or decoded within limits: `unprocessable` verdict."""

    reason: ClassVar[str] = "media_error"  # a stable, low-cardinality metric label


class InferenceError(ConsumerError):
    """Triton answered, but not with usable outputs for this batch."""


class InferenceUnavailable(InferenceError):
    """Triton cannot be reached or is not ready: pause and retry, never a verdict."""


class InferenceTimeout(InferenceUnavailable):
    """A request got no answer in `triton.timeout_s`: an outage, unless Triton is seen alive,
    and then the cost of the rows in it (the pipeline tells which)."""


class ModelBudgetExceeded(InferenceError):
    """One video's rows kept timing out while Triton was alive: given up for that model, the
    video is `review` (`model_budget_exceeded`) instead of stalling everyone's batches."""

    reason: ClassVar[str] = "model_budget_exceeded"


class PublishError(ConsumerError):
    """An output record could not be produced (missing topic, not authorised): stop."""


class BrokerAuthenticationError(ConsumerError):
    """The broker refused our credentials (SASL): no retry helps, so start-up stops."""
