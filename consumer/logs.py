"""Structured logging: one JSON object per line (or plain text for a terminal)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from consumer.settings import LogSettings

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Timestamp, level, logger, message, plus any `extra=` fields, as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class RateLimit(logging.Filter):
    """At most `burst` records per key (logger and facility) every `interval_s`; the next one
    let through says how many were held back. librdkafka repeats a connection failure dozens
    of times a second while a broker is down."""

    def __init__(self, interval_s: float = 10.0, burst: int = 3,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.burst = burst
        self.clock = clock
        self._windows: dict[tuple[str, str], list[float | int]] = {}  # start, passed, held

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.args[0]) if isinstance(record.args, tuple) and
               record.args else record.msg)
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.interval_s:
            held = int(window[2]) if window is not None else 0
            self._windows[key] = [now, 1, 0]
            if held:
                record.suppressed = held
            return True
        if window[1] < self.burst:
            window[1] += 1
            return True
        window[2] += 1
        return False


KAFKA_LOGGER = "consumer.kafka"


def kafka_logger() -> logging.Logger:
    """The logger librdkafka's own lines go to (confluent-kafka's `logger` property): they
    then come out structured, at mapped levels (syslog 3 -> ERROR, 4 -> WARNING, ...), and
    rate-limited, instead of raw `%3|...|FAIL|...` lines on stderr."""
    logger = logging.getLogger(KAFKA_LOGGER)
    if not any(isinstance(f, RateLimit) for f in logger.filters):
        logger.addFilter(RateLimit())
    return logger


def kafka_logged(config: Mapping[str, Any]) -> dict[str, Any]:
    """A Kafka client's `config` with its log lines routed to `kafka_logger()`. Every client
    the project creates gets its config through this (or the pipeline's `client_config`), the
    dev stack's and the tests' too: librdkafka prints a client's lines raw on stderr unless
    the config it is created with names a logger."""
    return {**config, "logger": kafka_logger()}


def configure_logging(settings: LogSettings) -> None:
    """Install one stderr handler on the root logger, replacing any earlier one."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
