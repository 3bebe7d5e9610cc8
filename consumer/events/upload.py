"""The "video uploaded" event (design.md section 3) and its parser.

The value is JSON; CloudEvents binary mode is accepted too (`ce_*` headers carry the envelope,
the value is the data). Anything that does not parse or validate raises `InvalidEvent` with a
short, stable `reason`, and the pipeline sends the original bytes to the DLQ.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consumer.errors import EventError

CE_PREFIX = "ce_"
MAX_EVENT_BYTES = 1024 * 1024
DEFAULT_SCHEMES = frozenset({"file", "http", "https", "gs", "s3"})


class InvalidEvent(EventError):
    """The event is not a valid upload event; `reason` is a low-cardinality label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class UploadEvent(BaseModel):
    """One uploaded video to classify; unknown fields are kept out, not rejected."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    video_id: str = Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")
    uri: str = Field(min_length=1, max_length=8192)
    uploaded_at: datetime | None = None
    content_type: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    cloudevent_id: str | None = None


def _header_map(headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers or ():
        if value is not None and key.lower().startswith(CE_PREFIX):
            out[key.lower()] = value.decode("utf-8", errors="replace")
    return out


def parse_upload_event(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None = None,
    *,
    allowed_schemes: Collection[str] = DEFAULT_SCHEMES,
    max_bytes: int = MAX_EVENT_BYTES,
) -> UploadEvent:
    """Parse and validate one record value; raise `InvalidEvent` with the reason."""
    if not value:
        raise InvalidEvent("empty", "event value is empty")
    if len(value) > max_bytes:
        raise InvalidEvent("too_large", f"event is {len(value)} bytes, limit {max_bytes}")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent("not_json", f"event is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidEvent("not_object", f"event JSON is a {type(data).__name__}, not an object")
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
        raise InvalidEvent("invalid", f"event fails validation: {fields}") from exc
    scheme = urlsplit(event.uri).scheme.lower() or "file"
    if scheme not in allowed_schemes:
        allowed = ", ".join(sorted(allowed_schemes))
        raise InvalidEvent("unsupported_scheme", f"uri scheme {scheme!r} not allowed ({allowed})")
    return event
