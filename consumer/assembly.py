"""One assembly for every entry point: `vmc run`, `vmc replay` (through `wiring`) and
`vmc scan` resolve the served models, check the settings across fields, and build and open the
signals here, so they accept and refuse the same settings and judge alike.

Checks that concern every entry point live here or in the `Settings` validators, nowhere else;
`wiring` adds only what a Kafka pipeline needs on top (protocol, queues, brokers).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from consumer.errors import ConfigError
from consumer.media.config import DecodeConfig
from consumer.models.licences import licence_notices
from consumer.models.specs import ModelSpec, get_spec
from consumer.observability.metrics import ConsumerMetrics
from consumer.settings import Settings
from consumer.signals import Opening, Signal, instances

log = logging.getLogger("consumer.assembly")


@dataclass(frozen=True)
class Assembly:
    specs: list[ModelSpec]  # the served models, in pipeline.models order
    signals: list[Signal]  # every registered signal, opened
    decode: DecodeConfig  # what the decode workers are told, the signals' needs included


def decode_config(settings: Settings, signals: list[Signal]) -> DecodeConfig:
    """The decode workers' config: the settings' groups, and what the signals need of the
    worker (a frame hash for one, the soundtrack for another: the longest and widest asked)."""
    needs = [signal.needs() for signal in signals]
    heard = [need for need in needs if need.soundtrack or need.listeners]
    return DecodeConfig.of(
        settings, frame_hashes=any(need.frame_hashes for need in needs),
        soundtrack=any(need.soundtrack for need in needs),
        max_soundtrack_s=max((need.max_soundtrack_s for need in heard), default=3600.0),
        max_audio_streams=max((need.max_audio_streams for need in heard), default=4),
        listeners=tuple(listener for need in needs for listener in need.listeners))


def check_decoder(settings: Settings) -> None:
    """gpu.decode=nvdec on a machine that cannot decode on NVDEC stops here, in one line."""
    if settings.gpu.decode == "nvdec":
        from consumer.media.nvdec import check_available

        check_available(settings.gpu.id)


def check_gpu(settings: Settings) -> None:
    """GPU node mode on a machine that cannot run it stops here, in one line, before any
    broker or server is asked anything."""
    check_decoder(settings)
    if settings.triton.shared_memory == "cuda":
        from consumer.inference.cuda_slots import check_cuda

        check_cuda(settings.gpu.id)


def assemble(settings: Settings, stack: contextlib.ExitStack, *,
             metrics: ConsumerMetrics | None = None, one_off: bool = False) -> Assembly:
    """Models resolved, GPU checked, signals checked and opened (their reference data loaded;
    with `one_off`, no reload threads). Inconsistent settings raise `ConfigError`."""
    try:
        specs = [get_spec(name) for name in settings.pipeline.models]
    except KeyError as exc:
        raise ConfigError(f"pipeline.models: {exc.args[0]}") from exc
    for notice in licence_notices(specs):  # opted in to a non-permissive model: say so once
        log.warning("%s", notice)
    check_gpu(settings)
    signals = instances(settings)
    for signal in signals:
        signal.check()
    for signal in signals:
        signal.open(Opening(stack, metrics, one_off))
    return Assembly(specs, signals, decode_config(settings, signals))
