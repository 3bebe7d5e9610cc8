"""The "video uploaded" event (design.md section 3) and its parser.

The value is UTF-8 JSON; CloudEvents binary mode is accepted too (`ce_*` headers carry the
envelope, the value is the data). The parser is total: whatever the bytes, it returns an
`UploadEvent` or raises `InvalidEvent` with a short, stable `reason`, never anything else, so
no event can stop its partition. `InvalidEvent.video_id` is set when the event still names a
video unambiguously, so that video gets an `unprocessable` verdict besides the DLQ copy.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from consumer.errors import EventError
from consumer.events.bounded_json import JsonRefused, loads, top_level

CE_PREFIX = "ce_"
MAX_EVENT_BYTES = 1024 * 1024
# An oversize event is still read for its video id up to this multiple of the limit.
ID_SCAN_FACTOR = 4
DEFAULT_SCHEMES = frozenset({"file", "http", "https", "gs", "s3"})

VideoId = Annotated[str, StringConstraints(min_length=1, max_length=256,
                                           pattern=r"^[^\x00-\x1f\x7f]+$")]
_VIDEO_ID: TypeAdapter[str] = TypeAdapter(VideoId)


class InvalidEvent(EventError):
    """The event is not a valid upload event; `reason` is a low-cardinality label and
    `video_id` the video it names, if any (that video still gets a verdict)."""

    def __init__(self, reason: str, message: str, video_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.video_id = video_id


class UploadEvent(BaseModel):
    """One uploaded video to classify; unknown fields are kept out, not rejected."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    video_id: VideoId
    uri: str = Field(min_length=1, max_length=8192)
    uploaded_at: datetime | None = None
    content_type: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    cloudevent_id: str | None = None

    @field_validator("uploaded_at")
    @classmethod
    def _naive_is_utc(cls, value: datetime | None) -> datetime | None:
        """A timestamp without a zone is read as UTC (documented), never compared naive."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _header_map(headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers or ():
        if isinstance(key, str) and isinstance(value, bytes) and \
                key.lower().startswith(CE_PREFIX):
            out[key.lower()] = value.decode("utf-8", errors="replace")
    return out


def _named_video(data: Any, duplicates: Collection[str]) -> str | None:
    """The event's video id if it names exactly one valid id (a duplicated key is ambiguous:
    two readers could pick different ones)."""
    if not isinstance(data, dict) or "video_id" in duplicates:
        return None
    try:
        return _VIDEO_ID.validate_python(data.get("video_id"))
    except ValidationError:
        return None


def _video_id_in(value: bytes, max_bytes: int) -> str | None:
    """The video a refused event names, read from its top level only (what lies deeper is
    what got it refused), for events up to `ID_SCAN_FACTOR` times the size limit."""
    if len(value) > ID_SCAN_FACTOR * max_bytes:
        return None
    try:
        parsed = loads(top_level(value))
    except JsonRefused:
        return None
    return _named_video(parsed.value, parsed.top_level_duplicates)


def _parse(value: bytes | None, headers: Sequence[tuple[str, bytes | None]] | None,
           allowed_schemes: Collection[str], max_bytes: int) -> UploadEvent:
    if not value:
        raise InvalidEvent("empty", "event value is empty")
    if len(value) > max_bytes:
        raise InvalidEvent("too_large", f"event is {len(value)} bytes, limit {max_bytes}",
                           _video_id_in(value, max_bytes))
    try:
        parsed = loads(value)
    except JsonRefused as exc:
        raise InvalidEvent(exc.reason, f"event is not bounded JSON: {exc}",
                           _video_id_in(value, max_bytes)) from exc
    data = parsed.value
    if not isinstance(data, dict):
        raise InvalidEvent("not_object", f"event JSON is a {type(data).__name__}, not an object")
    video_id = _named_video(data, parsed.top_level_duplicates)
    duplicates = parsed.top_level_duplicates + parsed.nested_duplicates
    if duplicates:
        raise InvalidEvent("invalid", f"duplicate keys in the event: {', '.join(duplicates)}",
                           video_id)
    envelope = _header_map(headers)
    if envelope:
        data.setdefault("cloudevent_id", envelope.get("ce_id"))
        if "ce_time" in envelope:
            data.setdefault("uploaded_at", envelope["ce_time"])
    try:
        event = UploadEvent.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) + f": {e['msg']}"
                           for e in exc.errors())
        raise InvalidEvent("invalid", f"event fails validation: {fields}", video_id) from exc
    try:
        scheme = urlsplit(event.uri).scheme.lower() or "file"
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise InvalidEvent("invalid", f"uri is not a URL: {exc}", video_id) from exc
    if scheme not in allowed_schemes:
        allowed = ", ".join(sorted(allowed_schemes))
        raise InvalidEvent("unsupported_scheme",
                           f"uri scheme {scheme!r} not allowed ({allowed})", video_id)
    return event


def parse_upload_event(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None = None,
    *,
    allowed_schemes: Collection[str] = DEFAULT_SCHEMES,
    max_bytes: int = MAX_EVENT_BYTES,
) -> UploadEvent:
    """Parse and validate one record value; raise `InvalidEvent`, and nothing else."""
    try:
        return _parse(value, headers, allowed_schemes, max_bytes)
    except InvalidEvent:
        raise
    except Exception as exc:  # a gap in the checks above must not become a crash loop
        raise InvalidEvent("invalid",
                           f"event cannot be read: {type(exc).__name__}: {exc}") from exc
