"""Why a video could not be turned into keyframes.

Each class carries a short, stable `reason` (a low-cardinality metric label such as
`consumer_failures_total{stage="media",reason="too_large"}`); the message names the limit or
the cause for people. All are `MediaError`s, so the pipeline maps every one of them to an
`unprocessable` outcome for that video only.
"""

from __future__ import annotations

from consumer.errors import ConsumerError, MediaError
from consumer.settings import ConfigError


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
    """decode.device=nvdec on a machine that cannot decode on NVDEC: start-up stops."""
