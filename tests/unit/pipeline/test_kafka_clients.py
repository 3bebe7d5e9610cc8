from __future__ import annotations

from confluent_kafka import Consumer, Producer

from consumer.pipeline.kafka_clients import consumer_config, producer_config
from consumer.settings import load_settings


def _settings(**pipeline: object):  # type: ignore[no-untyped-def]
    return load_settings(kafka={"client": {"session.timeout.ms": "6000", "linger.ms": "20",
                                           "sasl.password": "pw"}},
                         pipeline=pipeline)


def test_guarantees_cannot_be_overridden_by_pass_through() -> None:
    settings = load_settings(kafka={"client": {"enable.auto.offset.store": "true",
                                               "enable.idempotence": "false"}})
    consumer = consumer_config(settings.kafka, "g", settings.pipeline)
    producer = producer_config(settings.kafka, "g", settings.pipeline)
    assert consumer["enable.auto.offset.store"] is False
    assert consumer["enable.auto.commit"] is False
    assert consumer["partition.assignment.strategy"] == "cooperative-sticky"
    assert producer["enable.idempotence"] is True and producer["acks"] == "all"


def test_each_side_gets_only_its_own_pass_through_properties() -> None:
    settings = _settings()
    consumer = consumer_config(settings.kafka, "g", settings.pipeline)
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
    Consumer(consumer_config(settings.kafka, "g", settings.pipeline)).close()
