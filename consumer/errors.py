"""The project's error family, in one module. Third-party errors are converted once, at the
edge, into these; the pipeline maps each class to one outcome (DLQ, `unprocessable` verdict,
retry, pause, stop) in `consumer/pipeline/outcomes.py`.

Sections: configuration, the base family, media (why a video could not be turned into
keyframes), music matching. Every class a verdict or a metric names carries a short, stable
`reason` (a low-cardinality label such as `consumer_failures_total{stage="media",
reason="too_large"}`); the message names the limit or the cause for people.
"""

from __future__ import annotations

from typing import ClassVar


class ConfigError(ValueError):
    """The configuration is invalid; the message names each field and its env var."""


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


# ---- media: all `MediaError`s, so each maps to an `unprocessable` outcome for that video only

class MediaTooLarge(MediaError):
    """The source is bigger than `decode.max_bytes`, or reading it would exceed that cap."""

    reason = "too_large"


class MediaTooLong(MediaError):
    """The video lasts longer than `decode.max_duration_s`."""

    reason = "too_long"


class FrameTooLarge(MediaError):
    """A frame has more pixels than `decode.max_pixels`."""

    reason = "frame_too_large"


class TooManyStreams(MediaError):
    """The container has more streams than `decode.max_streams`."""

    reason = "too_many_streams"


class UnsupportedContainer(MediaError):
    """The bytes are not one of the whitelisted containers (mp4/mov, matroska/webm)."""

    reason = "unsupported_container"


class CorruptMedia(MediaError):
    """The container was recognised but its data cannot be demuxed or decoded."""

    reason = "corrupt"


class NoVideoStream(MediaError):
    """The container has no video stream (audio only, data only)."""

    reason = "no_video"


class SourceRefused(MediaError):
    """The URI is not allowed: scheme, host allowlist, or a private/metadata address."""

    reason = "source_refused"


class SourceUnreachable(MediaError):
    """The source could not be reached or answered with an error status."""

    reason = "source_unreachable"


class SourceTimeout(MediaError):
    """The source did not connect or deliver a range within its timeout."""

    reason = "source_timeout"


class DecodeTimeout(MediaError):
    """Extraction ran past `decode.timeout_s`; its worker was killed and replaced."""

    reason = "decode_timeout"


class DecodeCrashed(MediaError):
    """The worker process died (e.g. SIGSEGV inside FFmpeg); it was replaced."""

    reason = "decode_crashed"


class DecodeOutOfMemory(MediaError):
    """Extraction needed more than `decode.memory_limit_mb`; its worker was replaced."""

    reason = "decode_oom"


class DecodeFailed(MediaError):
    """Extraction failed for a reason no other class names (the message has the cause)."""

    reason = "decode_failed"


class NoKeyframes(MediaError):
    """The decoder returned a video without a single frame."""

    reason = "no_keyframes"


class ExtractorQueueFull(ConsumerError):
    """The extractor's bounded queue is full: back off (pause), this is not the video's fault."""


class ExtractorClosed(ConsumerError):
    """The extractor was closed before this video was processed."""


class NvdecUnavailable(ConfigError):
    """gpu.decode=nvdec on a machine that cannot decode on NVDEC: start-up stops."""


# ---- music matching: a missing native library, or a catalogue file that is not one

class ChromaprintUnavailable(ConfigError):
    """libchromaprint.so.1 cannot be loaded: a deployment problem, so start-up stops."""


class FingerprintError(ConsumerError):
    """Chromaprint refused the audio it was given (a bad sample rate, an internal failure)."""


class CatalogueError(ConsumerError):
    """A catalogue file is missing, corrupt, foreign, or from an unknown format version."""
