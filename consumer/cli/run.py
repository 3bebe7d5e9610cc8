"""`vmc run`: the always-on consumer."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from consumer.settings import Settings

if TYPE_CHECKING:
    from consumer.pipeline.runner import Pipeline

log = logging.getLogger("consumer.cli.run")


class StopOnSignal:
    """SIGTERM/SIGINT drain the pipeline; one that comes during start-up is remembered."""

    def __init__(self) -> None:
        self.requested = False
        self.pipeline: Pipeline | None = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.requested = True
        if self.pipeline is not None:
            self.pipeline.request_stop()

    def attach(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        if self.requested:
            pipeline.request_stop()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.exactly_once:
        settings.pipeline = settings.pipeline.model_copy(update={"delivery": "exactly_once"})
    return run_pipeline(settings, observe=True, started=lambda: log.info("consuming", extra={
        "topic": settings.kafka.topics.input, "group": settings.kafka.group_id,
        "models": settings.pipeline.models, "delivery": settings.pipeline.delivery}))


def run_pipeline(settings: Settings, started: Callable[[], None] = lambda: None,
                 **build: Any) -> int:
    """Build the pipeline and stop it gracefully on SIGTERM/SIGINT; `started` once it is
    built (a start-up check that stops it never reads as consuming). A start-up or fatal
    error propagates to `vmc`'s one error path."""
    from consumer.wiring import build_pipeline

    stop = StopOnSignal()
    with contextlib.ExitStack() as stack:
        pipeline = build_pipeline(settings, stack, **build)
        started()
        stop.attach(pipeline)
        return pipeline.run()


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run", help="the always-on consumer: upload events -> verdicts and tags",
        description="Consume upload events from kafka.topics.input, classify keyframes on "
        "Triton, publish verdicts and tags; malformed events go to the DLQ. SIGTERM drains "
        "in-flight work within pipeline.shutdown_grace_s, commits and exits 0.",
    )
    run.add_argument("--exactly-once", action="store_true",
                     help="Kafka transactions (same as VMC_PIPELINE__DELIVERY=exactly_once)")
    run.set_defaults(handler=_run, decodes_video=True)
