from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer

from consumer.pipeline.kafka_clients import (
    DEAD_LETTER_HEADROOM_BYTES,
    check_credentials,
    consumer_config,
    output_message_max_bytes,
    producer_config,
)
from consumer.settings import load_settings
from devstack.process import free_port


def _settings(**pipeline: object):  # type: ignore[no-untyped-def]
    return load_settings(kafka={"client": {"session.timeout.ms": "6000", "linger.ms": "20",
                                           "sasl.password": "pw"}},
                         pipeline=pipeline)


def test_guarantees_cannot_be_overridden_by_pass_through() -> None:
    settings = load_settings(kafka={"client": {"enable.auto.offset.store": "true",
                                               "enable.idempotence": "false"}})
    consumer = consumer_config(settings.kafka, "g")
    producer = producer_config(settings.kafka, "g", settings.pipeline)
    assert consumer["enable.auto.offset.store"] is False
    assert consumer["enable.auto.commit"] is False
    assert consumer["partition.assignment.strategy"] == "cooperative-sticky"
    assert producer["enable.idempotence"] is True and producer["acks"] == "all"


def test_each_side_gets_only_its_own_pass_through_properties() -> None:
    settings = _settings()
    consumer = consumer_config(settings.kafka, "g")
    producer = producer_config(settings.kafka, "g", settings.pipeline)
    assert consumer["session.timeout.ms"] == "6000" and "linger.ms" not in consumer
    assert producer["linger.ms"] == "20" and "session.timeout.ms" not in producer
    assert consumer["sasl.password"] == producer["sasl.password"] == "pw"


def test_exactly_once_config_is_accepted_by_librdkafka() -> None:
    settings = _settings(delivery="exactly_once")
    producer_cfg = producer_config(settings.kafka, "g", settings.pipeline)
    assert producer_cfg["transactional.id"].startswith("g-live-")
    assert producer_cfg["message.timeout.ms"] <= producer_cfg["transaction.timeout.ms"]
    Producer(producer_cfg)  # raises on an inconsistent configuration
    Consumer(consumer_config(settings.kafka, "g")).close()


def test_the_producer_can_send_a_dlq_copy_of_any_event_the_consumer_accepts() -> None:
    """librdkafka's default (1,000,000) is below the default max_event_bytes (1 MiB)."""
    settings = _settings(max_event_bytes=3 * 1024 * 1024)
    producer_cfg = producer_config(settings.kafka, "g", settings.pipeline)
    assert producer_cfg["message.max.bytes"] == output_message_max_bytes(settings.pipeline)
    assert producer_cfg["message.max.bytes"] >= 3 * 1024 * 1024 + DEAD_LETTER_HEADROOM_BYTES
    Producer(producer_cfg)
    assert producer_config(_settings().kafka, "g", _settings().pipeline)[
        "message.max.bytes"] > 1024 * 1024


def test_an_explicit_message_max_bytes_is_kept() -> None:
    settings = load_settings(kafka={"client": {"message.max.bytes": "500000"}})
    assert producer_config(settings.kafka, "g", settings.pipeline)["message.max.bytes"] == \
        "500000"


def test_credentials_check_leaves_an_unreachable_broker_to_the_pipeline() -> None:
    """Only a refused login stops start-up here; no answer at all is the pipeline's to report
    (it waits for the broker as before)."""
    settings = load_settings(kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    started = time.monotonic()
    check_credentials(settings.kafka, timeout_s=60)
    assert time.monotonic() - started < 5, "a closed port is not waited on"
