"""`vmc run`: the always-on consumer."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from typing import Any

from consumer.cli import UserError
from consumer.errors import PublishError
from consumer.settings import ConfigError, Settings

log = logging.getLogger("consumer.cli.run")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from consumer.pipeline.wiring import build_pipeline

    if args.exactly_once:
        settings.pipeline = settings.pipeline.model_copy(update={"delivery": "exactly_once"})
    with contextlib.ExitStack() as stack:
        try:
            pipeline = build_pipeline(settings, stack)
        except ConfigError as exc:
            raise UserError(str(exc)) from exc
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: pipeline.request_stop())
        log.info("consuming", extra={"topic": settings.kafka.topics.input,
                                     "group": settings.kafka.group_id,
                                     "models": settings.pipeline.models,
                                     "delivery": settings.pipeline.delivery})
        try:
            return pipeline.run()
        except PublishError as exc:
            raise UserError(str(exc)) from exc


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
