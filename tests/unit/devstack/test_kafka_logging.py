"""The dev stack's own Kafka clients (the demo's producer and reader, the smoke path, topic
creation) log through `logging`, never as librdkafka's raw `%N|...` lines on stderr: a broker
that does not answer makes every one of them log, so each is tried against one."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from consumer.logs import KAFKA_LOGGER, RateLimit
from consumer.settings import load_settings

DEAD = "127.0.0.1:1"  # nothing listens: librdkafka logs each failed connection
RAW = re.compile(r"^%\d\|", re.M)


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> Iterator[None]:
    """Each test's client gets its own budget of lines per facility (kafka_logger() adds a
    fresh limit), and leaves none of it spent for the tests after it."""
    logger = logging.getLogger(KAFKA_LOGGER)
    logger.filters[:] = [f for f in logger.filters if not isinstance(f, RateLimit)]
    yield
    logger.filters[:] = [f for f in logger.filters if not isinstance(f, RateLimit)]


def _demo_producer(tmp_path: Path) -> None:
    from devstack.demo import send_events

    assert send_events(DEAD, "uploads", {"v": tmp_path / "v.mp4"}, timeout_s=1.5) == 1


def _demo_reader(tmp_path: Path) -> None:
    from devstack.demo import _collect

    settings = load_settings(kafka={"bootstrap_servers": DEAD})
    assert _collect(settings, "verdicts", 1, timeout_s=1.5) == []


def _smoke(tmp_path: Path) -> None:
    from devstack.smoke import run_smoke

    with pytest.raises(TimeoutError):
        run_smoke(load_settings(kafka={"bootstrap_servers": DEAD}), timeout_s=1.5)


def _topics(tmp_path: Path) -> None:
    from confluent_kafka import KafkaException

    from devstack.kafka import create_topics

    with pytest.raises(KafkaException):
        create_topics({"bootstrap.servers": DEAD, "socket.timeout.ms": 1500}, {"t": 1},
                      timeout_s=1.5)


@pytest.mark.parametrize("client", [_demo_producer, _demo_reader, _smoke, _topics],
                         ids=["demo-producer", "demo-reader", "smoke", "create-topics"])
def test_dev_stack_kafka_clients_log_through_logging(
        client: Callable[[Path], None], tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.DEBUG, logger=KAFKA_LOGGER):
        client(tmp_path)
    captured = capfd.readouterr()
    assert not RAW.search(captured.out + captured.err), captured.err[-2000:]
    assert any(DEAD in r.getMessage() for r in caplog.records if r.name == KAFKA_LOGGER)
