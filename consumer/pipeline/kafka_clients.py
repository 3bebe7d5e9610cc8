"""librdkafka configurations of the pipeline's consumer and producer, from the settings.

Order matters: sane defaults, then the user's `kafka.client` pass-through (SASL, SSL, tuning),
then the properties the delivery guarantees depend on, which nothing may override.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from consumer.errors import BrokerAuthenticationError
from consumer.logs import kafka_logger
from consumer.settings import KafkaSettings, PipelineSettings

CONSUMER_DEFAULTS: dict[str, Any] = {
    "auto.offset.reset": "earliest",
    "queued.max.messages.kbytes": 1024,
    "fetch.max.bytes": 4 * 1024 * 1024,
    "max.poll.interval.ms": 300_000,
    "session.timeout.ms": 45_000,
}
PRODUCER_DEFAULTS: dict[str, Any] = {
    "linger.ms": 5,
    "compression.type": "lz4",
    "message.timeout.ms": 120_000,
}


# Properties only one side understands: librdkafka warns when the other side is given them.
_CONSUMER_ONLY = ("group.", "auto.offset.reset", "enable.auto.", "auto.commit.",
                  "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
                  "partition.assignment.strategy", "isolation.level", "fetch.", "queued.",
                  "check.crcs", "enable.partition.eof")
_PRODUCER_ONLY = ("acks", "linger.ms", "batch.", "compression.", "enable.idempotence",
                  "transactional.id", "transaction.timeout.ms", "message.timeout.ms",
                  "queue.buffering.", "retries", "retry.backoff", "delivery.timeout.ms",
                  "request.required.acks", "max.in.flight", "partitioner")
EOS_TRANSACTION_TIMEOUT_MS = 60_000
CREDENTIALS_CHECK_TIMEOUT_S = 10.0
LIBRDKAFKA_MESSAGE_MAX_BYTES = 1_000_000  # librdkafka's own default
# Room above pipeline.max_event_bytes for a DLQ copy's key, headers and framing.
DEAD_LETTER_HEADROOM_BYTES = 64 * 1024


def output_message_max_bytes(pipeline: PipelineSettings) -> int:
    """The producer's `message.max.bytes`: large enough that the DLQ copy of any event the
    consumer accepts (up to `pipeline.max_event_bytes`) is sent whole."""
    return max(LIBRDKAFKA_MESSAGE_MAX_BYTES, pipeline.max_event_bytes + DEAD_LETTER_HEADROOM_BYTES)


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """The user's client properties, with librdkafka's log lines routed to our logging."""
    return {**kafka.librdkafka_config(), "logger": kafka_logger()}


def _without(cfg: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if not k.startswith(prefixes)}


def consumer_config(kafka: KafkaSettings, group_id: str) -> dict[str, Any]:
    enforced = {
        "group.id": group_id,
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # Exactly-once readers of our own outputs use read_committed; for the input topic it
        # also hides aborted upload events from transactional upstream producers.
        "isolation.level": "read_committed",
        "logger": kafka_logger(),
    }
    return {**CONSUMER_DEFAULTS, **_without(kafka.librdkafka_config(), _PRODUCER_ONLY),
            **enforced}


def producer_config(kafka: KafkaSettings, group_id: str,
                    pipeline: PipelineSettings) -> dict[str, Any]:
    cfg = {**PRODUCER_DEFAULTS, **_without(kafka.librdkafka_config(), _CONSUMER_ONLY),
           "enable.idempotence": True, "acks": "all", "logger": kafka_logger()}
    cfg.setdefault("message.max.bytes", output_message_max_bytes(pipeline))
    if pipeline.delivery == "exactly_once":
        cfg["transactional.id"] = kafka.transactional_id or \
            f"{group_id}-{pipeline.run_id}-{socket.gethostname()}"
        cfg.setdefault("transaction.timeout.ms", EOS_TRANSACTION_TIMEOUT_MS)
        # librdkafka refuses a message timeout longer than the transaction timeout.
        cfg["message.timeout.ms"] = min(int(cfg["message.timeout.ms"]),
                                        int(cfg["transaction.timeout.ms"]))
    return cfg


def check_credentials(kafka: KafkaSettings,
                      timeout_s: float = CREDENTIALS_CHECK_TIMEOUT_S) -> None:
    """Start-up check: raise `BrokerAuthenticationError` when the broker refuses our SASL
    credentials. librdkafka itself only logs the refusal and retries forever. A broker that
    cannot be reached (or does not answer within `timeout_s`) is left to the pipeline's own
    checks and retries, as before."""
    refused: list[KafkaError] = []
    unreachable: list[KafkaError] = []

    def on_error(error: KafkaError) -> None:
        if error.code() == KafkaError._AUTHENTICATION:
            refused.append(error)
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            unreachable.append(error)

    # Quiet: the refusal is reported once, below, not as librdkafka's repeated log lines.
    config: dict[str, Any] = {**kafka.librdkafka_config(), "error_cb": on_error, "log_level": 0,
                              "logger": kafka_logger()}
    admin = AdminClient(config)
    deadline = time.monotonic() + timeout_s
    while not refused:
        try:
            admin.list_topics(kafka.topics.input, timeout=0.5)  # not the whole cluster's
            return
        except KafkaException:
            admin.poll(0)  # serves error_cb: a refusal comes before "all brokers down"
        if (unreachable and not refused) or time.monotonic() >= deadline:
            return
    client = kafka.librdkafka_config()
    raise BrokerAuthenticationError(
        f"Kafka authentication failed for user {client.get('sasl.username', '')!r} "
        f"({client.get('sasl.mechanism', 'GSSAPI')}): {refused[0].str()}")
