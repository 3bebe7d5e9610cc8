"""`vmc run`: the always-on consumer."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from typing import Any

from consumer.cli import UserError
from consumer.errors import PublishError
from consumer.settings import Settings

log = logging.getLogger("consumer.cli.run")


def build_pipeline(settings: Settings, stack: contextlib.ExitStack) -> Any:
    """Wire the edges (Kafka clients, decode workers, Triton clients) into a Pipeline."""
    from confluent_kafka import Consumer, KafkaException, Producer

    from consumer.inference.triton_client import TritonModelClient
    from consumer.media import KeyframeExtractor
    from consumer.pipeline.kafka_clients import consumer_config, producer_config
    from consumer.pipeline.runner import Pipeline
    from triton_models.specs import get_spec

    if settings.triton.protocol != "grpc":
        raise UserError("vmc run speaks gRPC to Triton: set VMC_TRITON__PROTOCOL=grpc")
    if settings.decode.queue_size < settings.pipeline.max_inflight_videos:
        raise UserError("decode.queue_size must be >= pipeline.max_inflight_videos "
                        f"({settings.decode.queue_size} < {settings.pipeline.max_inflight_videos})")
    try:
        specs = [get_spec(name) for name in settings.pipeline.models]
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from exc
    group = settings.kafka.group_id
    extractor = stack.enter_context(KeyframeExtractor(settings.decode, settings.source))
    models = [TritonModelClient(settings.triton.url, spec, settings.triton.timeout_s)
              for spec in specs]
    for model in models:
        stack.callback(model.close)
    try:
        consumer = Consumer(consumer_config(settings.kafka, group, settings.pipeline))
        producer = Producer(producer_config(settings.kafka, group, settings.pipeline))
    except KafkaException as exc:
        raise UserError(f"invalid Kafka client configuration: {exc.args[0].str()}") from exc
    stack.callback(producer.flush, 10)
    return Pipeline(settings, consumer, producer, extractor, models)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.exactly_once:
        settings.pipeline = settings.pipeline.model_copy(update={"delivery": "exactly_once"})
    with contextlib.ExitStack() as stack:
        pipeline = build_pipeline(settings, stack)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: pipeline.request_stop())
        log.info("consuming", extra={"topic": settings.kafka.topics.input,
                                     "group": settings.kafka.group_id,
                                     "models": settings.pipeline.models,
                                     "delivery": settings.pipeline.delivery})
        try:
            code: int = pipeline.run()
        except PublishError as exc:
            raise UserError(str(exc)) from exc
        return code


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run", help="the always-on consumer: upload events -> verdicts and tags",
        description="Consume upload events from kafka.topics.input, classify keyframes on "
        "Triton, publish verdicts and tags; malformed events go to the DLQ. SIGTERM drains "
        "in-flight work within pipeline.shutdown_grace_s, commits and exits 0.",
    )
    run.add_argument("--exactly-once", action="store_true",
                     help="Kafka transactions (same as VMC_PIPELINE__DELIVERY=exactly_once)")
    run.set_defaults(handler=_run)
