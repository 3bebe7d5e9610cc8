"""DLQ records: originals untouched when they fit, a truncated copy that says so when not."""

from __future__ import annotations

import hashlib

import pytest
from confluent_kafka import KafkaException, Producer

from consumer.events.source import SourceRef
from consumer.logs import kafka_logged
from consumer.publishing.dlq import dlq_headers, fit_dead_letter, record_bytes, usable_bytes

SRC = SourceRef("video.uploads", 3, 1234)


def _headers(original: list[tuple[str, bytes | None]] | None = None) -> list[tuple[str, bytes]]:
    return dlq_headers(stage="parse", error=ValueError("too big"), reason="too_large",
                       attempt=1, source=SRC, original=original)


def test_dlq_headers_keep_originals_and_name_stage_error_and_source() -> None:
    headers = dict(_headers([("ce_id", b"e1"), ("vmc.stage", b"forged")]))
    assert headers["ce_id"] == b"e1"
    assert headers["vmc.stage"] == b"parse"
    assert headers["vmc.error.class"] == b"ValueError"
    assert headers["vmc.source.offset"] == b"1234"


def test_a_record_that_fits_is_kept_byte_for_byte() -> None:
    value = b"x" * 1000
    headers = _headers([("ce_id", b"e1")])
    letter = fit_dead_letter(b"v1", value, headers, 1_000_000)
    assert (letter.key, letter.value, letter.headers) == (b"v1", value, headers)


def test_an_oversize_record_keeps_the_first_bytes_and_says_how_it_was_cut() -> None:
    value = bytes(range(256)) * 4100  # 1,049,600 bytes
    letter = fit_dead_letter(b"v1", value, _headers([("ce_id", b"e1")]), 1_000_000)
    headers = dict(letter.headers)
    assert value.startswith(letter.value)
    assert 900_000 < len(letter.value) < len(value)
    assert headers["vmc.truncated"] == b"true"
    assert headers["vmc.original.size"] == str(len(value)).encode()
    assert headers["vmc.original.sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert headers["ce_id"] == b"e1"
    assert headers["vmc.error.reason"] == b"too_large"
    assert record_bytes(letter.key, letter.value, letter.headers) <= usable_bytes(1_000_000)


def test_huge_original_headers_are_dropped_before_the_value_is_emptied() -> None:
    original = [("ce_id", b"e1"), ("junk", b"j" * 900_000)]
    letter = fit_dead_letter(b"v1", b"{}" * 100, _headers(original), 100_000)
    headers = dict(letter.headers)
    assert "junk" not in headers
    assert headers["ce_id"] == b"e1"
    assert headers["vmc.original.headers_dropped"] == b"1"
    assert letter.value == b"{}" * 100
    assert record_bytes(letter.key, letter.value, letter.headers) <= usable_bytes(100_000)


@pytest.mark.parametrize("limit", [10_000, 100_000, 1_000_000])
def test_librdkafka_accepts_every_fitted_record(limit: int) -> None:
    """The real producer's own size check (no broker needed to refuse synchronously)."""
    producer = Producer(kafka_logged({"bootstrap.servers": "127.0.0.1:9",
                                      "message.max.bytes": limit, "message.timeout.ms": 1}))
    value = b"\xff" * (limit + 5000)
    headers = _headers([("ce_id", b"e1"), ("big", b"b" * (limit // 3))])
    with pytest.raises(KafkaException):
        producer.produce("t", key=b"v1", value=value, headers=headers)
    letter = fit_dead_letter(b"v1", value, headers, limit)
    producer.produce("t", key=letter.key, value=letter.value, headers=letter.headers)
    producer.purge()
