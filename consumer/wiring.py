"""The composition root: a Pipeline built from the settings, with its Kafka clients, decode
workers, Triton clients, and (when observed) metrics and health.

It sits above the packages it wires, so none of them imports another to be assembled:
`observability` implements the spine's `PipelineHooks`, the spine knows nothing of metrics.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]
from prometheus_client import CollectorRegistry

from consumer.assembly import assemble
from consumer.errors import ConfigError
from consumer.inference.cuda_slots import CudaSlots, TritonCudaRegions
from consumer.inference.triton_client import TritonModelClient, register_at_start
from consumer.media import KeyframeExtractor, ResizeSpec
from consumer.models.specs import ModelSpec
from consumer.observability.health import HealthServer, PipelineProbes
from consumer.observability.metrics import ConsumerMetrics, WorkerPoolCollector
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.kafka_clients import (
    DEAD_LETTER_HEADROOM_BYTES,
    LIBRDKAFKA_MESSAGE_MAX_BYTES,
    check_credentials,
    client_config,
    consumer_config,
    producer_config,
)
from consumer.pipeline.replay import Window
from consumer.pipeline.runner import Pipeline
from consumer.publishing.limits import MIN_RECORD_LIMIT_BYTES, RecordLimits
from consumer.settings import Settings

log = logging.getLogger("consumer.wiring")


def topic_max_message_bytes(client: dict[str, Any], topic: str,
                            timeout_s: float = 10.0) -> int | None:
    """The topic's `max.message.bytes` as the broker reports it; None if it cannot be read
    (e.g. no DescribeConfigs permission): then a refused DLQ copy is cut down on retry."""
    try:
        admin = AdminClient(client)
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        configs = admin.describe_configs([resource], request_timeout=timeout_s)[resource]
        entry = configs.result(timeout=timeout_s).get("max.message.bytes")
        return int(entry.value) if entry is not None and entry.value else None
    except Exception as exc:  # any failure only costs the start-up check
        log.warning("cannot read max.message.bytes of %s: %s", topic, exc)
        return None


def _device_arenas(settings: Settings, specs: list[ModelSpec]) -> Callable[[], Any] | None:
    """In GPU node mode with CUDA shared memory, a device arena per NVDEC worker."""
    if settings.triton.shared_memory != "cuda" or settings.gpu.decode != "nvdec":
        return None
    from consumer.media import device_frames

    nbytes = device_frames.arena_nbytes(
        [ResizeSpec.of(spec) for spec in specs], settings.sampling.max_keyframes)
    device = f"cuda:{settings.gpu.id}"
    return lambda: device_frames.allocate(nbytes, device)


def _triton_clients(settings: Settings, specs: list[ModelSpec],
                    stack: contextlib.ExitStack) -> list[TritonModelClient]:
    models = []
    for spec in specs:
        model = TritonModelClient(settings.triton.url, spec, settings.triton.timeout_s,
                                  slots=_batch_slots(settings, spec))
        stack.callback(model.close)
        models.append(model)
        if model.slots is not None:
            register_at_start(model.slots)
    return models


def _batch_slots(settings: Settings, spec: ModelSpec) -> Callable[[Any], CudaSlots] | None:
    """With triton.shared_memory=cuda, the model's batch slots (one per batch in flight)."""
    if settings.triton.shared_memory != "cuda":
        return None
    gpu_id = settings.gpu.id
    count = settings.pipeline.max_inflight_batches

    def make(registry: Any) -> CudaSlots:
        try:
            return CudaSlots(spec, count, gpu_id, TritonCudaRegions(), registry,
                             timeout_s=settings.triton.timeout_s)
        except Exception as exc:
            raise ConfigError(f"triton.shared_memory=cuda: cannot allocate {spec.name}'s "
                              f"{count} batch slots on GPU {gpu_id}: {exc}") from None
    return make


def topic_limit_bytes(settings: Settings, producer_cfg: dict[str, Any],
                      topic: str) -> tuple[int, int | None]:
    """The largest record both the producer and `topic` take, and the topic's own limit as
    read (None: unknown, then no more than a broker's default, 1 MiB, is assumed, so an
    exactly-once transaction is not aborted over a record the broker refuses)."""
    topic_limit = topic_max_message_bytes(client_config(settings.kafka), topic)
    return (min(int(producer_cfg["message.max.bytes"]),
                topic_limit or LIBRDKAFKA_MESSAGE_MAX_BYTES), topic_limit)


def dead_letter_limit_bytes(settings: Settings, producer_cfg: dict[str, Any]) -> int:
    """The largest DLQ record the producer and the DLQ topic both take; warns at start-up
    when an accepted event could be larger, since its DLQ copy will then be truncated."""
    topic = settings.kafka.topics.dlq
    limit, topic_limit = topic_limit_bytes(settings, producer_cfg, topic)
    needed = settings.pipeline.max_event_bytes + DEAD_LETTER_HEADROOM_BYTES
    if needed > limit:
        log.warning("pipeline.max_event_bytes=%d exceeds what can be sent to the DLQ (%d bytes:"
                    " producer message.max.bytes=%s, %s max.message.bytes=%s): DLQ copies of "
                    "larger events are truncated, with their size and SHA-256 in headers",
                    settings.pipeline.max_event_bytes, limit,
                    producer_cfg["message.max.bytes"], topic, topic_limit)
    return limit


def record_limits(settings: Settings, producer_cfg: dict[str, Any]) -> RecordLimits:
    """What one record may take on each output topic: the producer's `message.max.bytes` and
    the topic's `max.message.bytes` (unknown: a broker's default). Verdicts and tags are cut
    to fit them; a limit too low for a verdict stops the start, since its verdicts could not
    be delivered."""
    topics = settings.kafka.topics
    limits = RecordLimits(verdicts_bytes=topic_limit_bytes(settings, producer_cfg,
                                                           topics.verdicts)[0],
                          tags_bytes=topic_limit_bytes(settings, producer_cfg, topics.tags)[0],
                          dead_letter_bytes=dead_letter_limit_bytes(settings, producer_cfg),
                          signals_bytes=topic_limit_bytes(settings, producer_cfg,
                                                          topics.signals)[0])
    for topic, limit in ((topics.verdicts, limits.verdicts_bytes),
                         (topics.tags, limits.tags_bytes)):
        if limit < MIN_RECORD_LIMIT_BYTES:
            raise ConfigError(f"{topic} takes records of at most {limit} bytes (producer "
                              f"message.max.bytes / topic max.message.bytes); verdicts and "
                              f"tags need at least {MIN_RECORD_LIMIT_BYTES}")
    return limits


def build_pipeline(settings: Settings, stack: contextlib.ExitStack,
                   hooks: PipelineHooks | None = None, *, observe: bool = False,
                   window: Window | None = None,
                   max_events_per_s: float | None = None) -> Pipeline:
    """Wire the edges; `stack` closes them. Inconsistent settings raise `ConfigError`,
    credentials the broker refuses `BrokerAuthenticationError`.

    With `observe`, the pipeline reports to Prometheus metrics and the HTTP port of
    `settings.metrics` serves /metrics, /healthz and /readyz.
    """
    if settings.triton.protocol != "grpc":
        raise ConfigError("the pipeline speaks gRPC to Triton: set VMC_TRITON__PROTOCOL=grpc")
    if settings.workers.queue_size < settings.pipeline.max_inflight_videos:
        raise ConfigError(
            "workers.queue_size must be >= pipeline.max_inflight_videos "
            f"({settings.workers.queue_size} < {settings.pipeline.max_inflight_videos})")
    metrics = None
    if observe:
        registry = CollectorRegistry()
        metrics = ConsumerMetrics(registry, settings.kafka.topics.input)
        hooks = metrics
    assembly = assemble(settings, stack, metrics=metrics)  # before any broker is asked
    specs = assembly.specs
    check_credentials(settings.kafka)  # a refused login stops here, in one line
    group = settings.kafka.group_id
    kafka_cfg = consumer_config(settings.kafka, group)
    if metrics is not None:
        kafka_cfg["statistics.interval.ms"] = int(settings.metrics.statistics_interval_s * 1000)
        kafka_cfg["stats_cb"] = metrics.statistics
    producer_cfg = producer_config(settings.kafka, group, settings.pipeline)
    try:
        consumer = Consumer(kafka_cfg)
        producer = Producer(producer_cfg)
    except KafkaException as exc:
        raise ConfigError(f"invalid Kafka client configuration: {exc.args[0].str()}") from exc
    stack.callback(producer.flush, 10)
    extractor = stack.enter_context(KeyframeExtractor(assembly.decode, settings.source,
                                                      arena=_device_arenas(settings, specs)))
    models = _triton_clients(settings, specs, stack)
    pipeline = Pipeline(settings, consumer, producer, extractor, models, hooks=hooks,
                        window=window, max_events_per_s=max_events_per_s,
                        limits=record_limits(settings, producer_cfg),
                        signals=assembly.signals)
    if metrics is not None:
        registry.register(WorkerPoolCollector(lambda: extractor.restarts,
                                              lambda: extractor.pending))
        probes = PipelineProbes(pipeline, [model.ready for model in models],
                                liveness_timeout_s=settings.metrics.liveness_timeout_s)
        probes.start()
        stack.callback(probes.close)
        try:
            server = HealthServer(settings.metrics.host, settings.metrics.port, registry,
                                  probes.live, probes.ready)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {settings.metrics.host}:"
                              f"{settings.metrics.port}: {exc}") from exc
        stack.callback(server.close)
    return pipeline
