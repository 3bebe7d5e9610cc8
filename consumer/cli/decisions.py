"""`vmc decisions`: apply reviewers' decisions (banks, calibration metrics), always on.

Its own consumer group (`review.decisions_group_id`), its own state file
(`review.state_path`), its metrics and health on `metrics.port` like `vmc run`. SIGTERM and
SIGINT stop it after the record in hand; everything done is in the state file.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from typing import Any

from consumer.settings import Settings

log = logging.getLogger("consumer.cli.decisions")


def served_banks(settings: Settings) -> dict[str, str]:
    """Bank name -> path of the banks the consumer serves (review.served_banks overrides)."""
    lists = settings.signals.raw("known_content").get("lists", []) if isinstance(
        settings.signals.raw("known_content"), dict) else []
    banks = {str(r["name"]): str(r["path"]) for r in lists
             if isinstance(r, dict) and "name" in r and "path" in r}
    return {**banks, **settings.review.served_banks}


def thresholds(settings: Settings) -> dict[str, dict[str, float]]:
    """Category -> its review and block thresholds under the served policy."""
    from consumer.signals.scores import ScoresSettings

    rules = ScoresSettings.model_validate(settings.signals.raw("scores")).categories
    return {name: {k: v for k, v in (("review", r.review), ("block", r.block)) if v is not None}
            for name, r in rules.items()}


def build_loop(settings: Settings, stack: contextlib.ExitStack, registry: Any) -> Any:
    """The decisions loop, its clients closed by `stack`."""
    from confluent_kafka import Consumer, Producer

    from consumer.observability.review_metrics import DecisionMetrics
    from consumer.pipeline.kafka_clients import consumer_config, producer_config
    from consumer.review.loop import DecisionsLoop
    from consumer.review.state import StateStore

    group = settings.review.decisions_group_id
    # Partition EOF events tell where the signals topic ends even when its last offsets are
    # transaction markers (exactly_once), which are never delivered as records.
    consumer = Consumer({**consumer_config(settings.kafka, group),
                         "enable.partition.eof": True})
    stack.callback(consumer.close)
    # The DLQ producer is idempotent, never transactional: the loop's state commits in sqlite,
    # not in Kafka transactions (a transactional.id without init_transactions refuses sends).
    producer = Producer(producer_config(settings.kafka, group,
                                        settings.pipeline.model_copy(
                                            update={"delivery": "at_least_once"})))
    stack.callback(producer.flush, 10)
    store = StateStore(settings.review.state_path)
    stack.callback(store.close)
    metrics = DecisionMetrics(registry, thresholds(settings), settings.review.precision_floor)
    topics = settings.kafka.topics
    loop = DecisionsLoop(consumer, producer, store, settings.review,
                         signals_topic=topics.signals, decisions_topic=topics.decisions,
                         dlq_topic=topics.dlq, served_banks=served_banks(settings),
                         observer=metrics)
    loop.assign()
    return loop


def _decisions(args: argparse.Namespace, settings: Settings) -> int:
    from prometheus_client import CollectorRegistry

    from consumer.observability.health import HealthServer

    registry = CollectorRegistry()
    with contextlib.ExitStack() as stack:
        loop = build_loop(settings, stack, registry)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: loop.stopping.set())

        def alive() -> tuple[bool, dict[str, Any]]:
            return not loop.stopping.is_set(), {}

        server = HealthServer(settings.metrics.host, settings.metrics.port, registry,
                              alive, alive)
        stack.callback(server.close)
        log.info("applying decisions", extra={
            "topic": settings.kafka.topics.decisions, "signals": settings.kafka.topics.signals,
            "group": settings.review.decisions_group_id, "state": settings.review.state_path})
        loop.run()
    return 0


def register(commands: Any) -> None:
    decisions = commands.add_parser(
        "decisions", help="apply reviewers' decisions: banks and calibration metrics",
        description="Reads kafka.topics.signals into a local state file and applies each "
        "decision of kafka.topics.decisions once: `violating` banks the video's hashes in "
        "review.confirmed_bank, `not_violating` on a known-content match copies the entry "
        "into review.allow_bank; the latest decision by time decides. A malformed decision, "
        "or one whose verdict never appears, goes to the DLQ. Serves calibration metrics.")
    decisions.set_defaults(handler=_decisions)
