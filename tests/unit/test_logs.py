"""librdkafka's own lines go through our logging, at mapped levels, rate-limited."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import Consumer

from consumer.logs import KAFKA_LOGGER, RateLimit, kafka_logger


def _record(facility: str) -> logging.LogRecord:
    return logging.LogRecord(KAFKA_LOGGER, logging.ERROR, __file__, 1, "%s [%s] %s",
                             (facility, "rdkafka#consumer-1", "Connect failed"), None)


def test_a_burst_per_facility_then_one_line_saying_how_many_were_held() -> None:
    now = [0.0]
    limit = RateLimit(interval_s=10, burst=2, clock=lambda: now[0])
    assert [limit.filter(_record("FAIL")) for _ in range(5)] == [True, True, False, False,
                                                                  False]
    assert limit.filter(_record("BROKERFAIL")), "another facility has its own budget"
    now[0] = 10.0
    record = _record("FAIL")
    assert limit.filter(record) and record.suppressed == 3  # type: ignore[attr-defined]


def test_librdkafka_logs_arrive_as_records_not_raw_stderr(
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.DEBUG, logger=KAFKA_LOGGER):
        consumer = Consumer({"bootstrap.servers": "127.0.0.1:1", "group.id": "logs-test",
                             "logger": kafka_logger(), "reconnect.backoff.ms": 10,
                             "reconnect.backoff.max.ms": 10})
        for _ in range(30):
            consumer.poll(0.1)
        consumer.close()
    lines = [r for r in caplog.records if r.name == KAFKA_LOGGER]
    assert lines and all(r.levelno >= logging.INFO for r in lines)
    assert any("127.0.0.1:1" in r.getMessage() and r.levelno >= logging.WARNING
               for r in lines)
    assert len(lines) <= 12, "rate-limited: a few lines per facility, not one per retry"
    assert "%3|" not in capfd.readouterr().err
