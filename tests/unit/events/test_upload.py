"""The upload event parser is total: an event or `InvalidEvent`, whatever the bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.events import InvalidEvent, UploadEvent, parse_upload_event
from consumer.events.upload import ID_SCAN_FACTOR

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
    (b'{"video_id": "v", "uri": "file:///a", "metadata": {"x": NaN}}', "not_json"),
    ('{"video_id": "v", "uri": "file:///a"}'.encode("utf-16"), "not_json"),
    (json.dumps({"video_id": "v", "uri": "http://[::1/a.mp4"}).encode(), "invalid"),
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


def _nested(levels: int) -> bytes:
    return (b'{"video_id": "v1", "uri": "file:///a.mp4", "metadata": {"x": '
            + b"[" * levels + b"]" * levels + b"}}")


def test_deep_nesting_is_refused_by_an_explicit_bound_and_still_names_the_video() -> None:
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(_nested(1000))
    assert err.value.reason == "too_deep"
    assert "1002 levels deep, limit 32" in str(err.value)
    assert err.value.video_id == "v1"
    assert parse_upload_event(_nested(30)).video_id == "v1"  # 32 levels: at the bound


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    event = parse_upload_event(json.dumps({**VALID, "metadata": {"t": "[" * 5000}}).encode())
    assert event.metadata["t"] == "[" * 5000


@pytest.mark.parametrize("number", [b"9" * 5000, b"-" + b"1" * 65, b"1." + b"0" * 70,
                                    b"1e" + b"9" * 80])
def test_huge_numbers_are_refused_before_conversion(number: bytes) -> None:
    value = b'{"video_id": "v2", "uri": "file:///a.mp4", "metadata": {"n": ' + number + b"}}"
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(value)
    assert err.value.reason == "number_too_large"
    assert err.value.video_id == "v2"


def test_a_number_at_the_bound_is_accepted() -> None:
    value = b'{"video_id": "v", "uri": "file:///a.mp4", "metadata": {"n": ' + b"9" * 64 + b"}}"
    assert parse_upload_event(value).metadata["n"] == int("9" * 64)


def test_a_timestamp_without_a_zone_is_read_as_utc() -> None:
    event = parse_upload_event(json.dumps({**VALID, "uploaded_at": "2026-11-23T00:00:00"})
                               .encode())
    assert event.uploaded_at == datetime(2026, 11, 23, tzinfo=UTC)
    assert (datetime.now(UTC) - event.uploaded_at).total_seconds() > -86400  # comparable


def test_a_cloudevents_time_without_a_zone_is_read_as_utc() -> None:
    body = json.dumps({"video_id": "v9", "uri": "https://cdn.example/v9.mp4"}).encode()
    event = parse_upload_event(body, [("ce_time", b"2026-11-22T09:00:00")])
    assert event.uploaded_at == datetime(2026, 11, 22, 9, tzinfo=UTC)


def test_duplicate_keys_are_refused_and_name_the_key() -> None:
    value = b'{"video_id": "v4", "uri": "file:///a.mp4", "uri": "file:///b.mp4"}'
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(value)
    assert err.value.reason == "invalid"
    assert "duplicate keys in the event: uri" in str(err.value)
    assert err.value.video_id == "v4"


def test_nested_duplicate_keys_are_refused_too() -> None:
    value = b'{"video_id": "v4", "uri": "file:///a.mp4", "metadata": {"a": 1, "a": 2}}'
    with pytest.raises(InvalidEvent, match="duplicate keys in the event: a"):
        parse_upload_event(value)


def test_a_duplicated_video_id_names_no_video() -> None:
    """Two readers could pick different ids: neither is trusted with a verdict."""
    value = b'{"video_id": "v4", "video_id": "v5", "uri": "file:///a.mp4"}'
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(value)
    assert err.value.video_id is None


@pytest.mark.parametrize(("event", "video_id"), [
    ({"video_id": "v6", "uri": "ftp://host/a.mp4"}, "v6"),
    ({"video_id": "v6", "uri": "file:///a", "uploaded_at": "yesterday"}, "v6"),
    ({"video_id": "v6"}, "v6"),
    ({"video_id": "", "uri": "file:///a"}, None),
    ({"video_id": 6, "uri": "file:///a"}, None),
    ({"video_id": "a\nb", "uri": "file:///a"}, None),
    ({"uri": "file:///a"}, None),
])
def test_an_invalid_event_carries_the_video_it_names(event: dict[str, object],
                                                     video_id: str | None) -> None:
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(json.dumps(event).encode())
    assert err.value.video_id == video_id


def test_an_oversize_event_still_names_its_video() -> None:
    value = json.dumps({**VALID, "metadata": {"pad": "x" * 5000}}).encode()
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(value, max_bytes=2000)
    assert (err.value.reason, err.value.video_id) == ("too_large", "v123")


def test_an_event_far_over_the_limit_is_not_read_at_all() -> None:
    value = json.dumps({**VALID, "metadata": {"pad": "x" * 5000}}).encode()
    with pytest.raises(InvalidEvent) as err:
        parse_upload_event(value, max_bytes=len(value) // ID_SCAN_FACTOR - 1)
    assert (err.value.reason, err.value.video_id) == ("too_large", None)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=40,
)
HEADERS = st.lists(st.tuples(st.sampled_from(["ce_id", "ce_time", "CE_TIME", "other"]),
                             st.none() | st.binary(max_size=40)), max_size=4)


def _total(value: bytes, headers: list[tuple[str, bytes | None]]) -> None:
    try:
        event = parse_upload_event(value, headers, max_bytes=4096)
    except InvalidEvent as exc:
        assert exc.reason and isinstance(exc.reason, str)
        assert exc.video_id is None or isinstance(exc.video_id, str)
        return
    assert isinstance(event, UploadEvent)
    assert event.uploaded_at is None or event.uploaded_at.tzinfo is not None


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=8192), HEADERS)
def test_arbitrary_bytes_give_an_event_or_invalid_event_only(
        value: bytes, headers: list[tuple[str, bytes | None]]) -> None:
    _total(value, headers)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES, HEADERS)
def test_arbitrary_json_gives_an_event_or_invalid_event_only(
        data: object, headers: list[tuple[str, bytes | None]]) -> None:
    _total(json.dumps(data).encode(), headers)


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries(
    {"video_id": st.text(max_size=300), "uri": st.text(max_size=60)},
    optional={"uploaded_at": st.text(max_size=40) | st.integers() | st.floats(),
              "metadata": JSON_VALUES, "content_type": JSON_VALUES}), HEADERS)
def test_arbitrary_upload_shaped_events_give_an_event_or_invalid_event_only(
        data: dict[str, object], headers: list[tuple[str, bytes | None]]) -> None:
    _total(json.dumps(data).encode(), headers)
