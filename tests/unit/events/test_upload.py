from __future__ import annotations

import json

import pytest

from consumer.events import InvalidEvent, parse_upload_event

VALID = {"video_id": "v123", "uri": "gs://bucket/path.mp4",
         "uploaded_at": "2026-11-22T10:00:00Z", "content_type": "video/mp4",
         "metadata": {"creator_id": "c9"}}


def test_design_example_parses() -> None:
    event = parse_upload_event(json.dumps(VALID).encode())
    assert event.video_id == "v123"
    assert event.uploaded_at is not None and event.uploaded_at.year == 2026
    assert event.metadata == {"creator_id": "c9"}


@pytest.mark.parametrize(("value", "reason"), [
    (b"", "empty"),
    (b"not json at all", "not_json"),
    (b"\xff\xfe\x00garbage", "not_json"),
    (b"[1, 2]", "not_object"),
    (json.dumps({"uri": "file:///a.mp4"}).encode(), "invalid"),
    (json.dumps({"video_id": "", "uri": "file:///a.mp4"}).encode(), "invalid"),
    (json.dumps({"video_id": "a\nb", "uri": "file:///a.mp4"}).encode(), "invalid"),
    (json.dumps({"video_id": "v", "uri": "ftp://host/a.mp4"}).encode(), "unsupported_scheme"),
    (json.dumps({"video_id": "v", "uri": "file:///a", "uploaded_at": "yesterday"}).encode(),
     "invalid"),
])
def test_malformed_events_name_their_reason(value: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(value)
    assert err.value.reason == reason


def test_oversize_event_is_refused_before_parsing() -> None:
    value = json.dumps({**VALID, "metadata": {"pad": "x" * 5000}}).encode()
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(value, max_bytes=1000)
    assert err.value.reason == "too_large"


def test_cloudevents_binary_mode_headers_fill_the_envelope() -> None:
    body = json.dumps({"video_id": "v9", "uri": "https://cdn.example/v9.mp4"}).encode()
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"evt-77"), ("ce_type", b"video.uploaded"),
               ("ce_source", b"//upload"), ("ce_time", b"2026-11-22T09:00:00Z"),
               ("content-type", b"application/json")]
    event = parse_upload_event(body, headers)
    assert event.cloudevent_id == "evt-77"
    assert event.uploaded_at is not None and event.uploaded_at.hour == 9


def test_unknown_fields_are_ignored() -> None:
    event = parse_upload_event(json.dumps({**VALID, "extra": 1}).encode())
    assert not hasattr(event, "extra")
