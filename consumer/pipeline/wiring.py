"""Build a Pipeline from the settings: Kafka clients, decode workers, Triton clients."""

from __future__ import annotations

import contextlib

from consumer.pipeline.runner import Pipeline, PipelineHooks, Window
from consumer.settings import ConfigError, Settings


def build_pipeline(settings: Settings, stack: contextlib.ExitStack,
                   hooks: PipelineHooks | None = None, *, observe: bool = False,
                   window: Window | None = None,
                   max_events_per_s: float | None = None) -> Pipeline:
    """Wire the edges; `stack` closes them. Inconsistent settings raise `ConfigError`.

    With `observe`, the pipeline reports to Prometheus metrics and the HTTP port of
    `settings.metrics` serves /metrics, /healthz and /readyz.
    """
    from confluent_kafka import Consumer, KafkaException, Producer

    from consumer.inference.triton_client import TritonModelClient
    from consumer.media import KeyframeExtractor
    from consumer.pipeline.kafka_clients import consumer_config, producer_config
    from triton_models.specs import get_spec

    if settings.triton.protocol != "grpc":
        raise ConfigError("the pipeline speaks gRPC to Triton: set VMC_TRITON__PROTOCOL=grpc")
    if settings.decode.queue_size < settings.pipeline.max_inflight_videos:
        raise ConfigError(
            "decode.queue_size must be >= pipeline.max_inflight_videos "
            f"({settings.decode.queue_size} < {settings.pipeline.max_inflight_videos})")
    try:
        specs = [get_spec(name) for name in settings.pipeline.models]
    except KeyError as exc:
        raise ConfigError(f"pipeline.models: {exc.args[0]}") from exc
    group = settings.kafka.group_id
    metrics = None
    if observe:
        from prometheus_client import CollectorRegistry

        from consumer.observability.metrics import ConsumerMetrics

        registry = CollectorRegistry()
        metrics = ConsumerMetrics(registry, settings.kafka.topics.input)
        hooks = metrics
    kafka_cfg = consumer_config(settings.kafka, group, settings.pipeline)
    if metrics is not None:
        kafka_cfg["statistics.interval.ms"] = int(settings.metrics.statistics_interval_s * 1000)
        kafka_cfg["stats_cb"] = metrics.statistics
    try:
        consumer = Consumer(kafka_cfg)
        producer = Producer(producer_config(settings.kafka, group, settings.pipeline))
    except KafkaException as exc:
        raise ConfigError(f"invalid Kafka client configuration: {exc.args[0].str()}") from exc
    stack.callback(producer.flush, 10)
    extractor = stack.enter_context(KeyframeExtractor(settings.decode, settings.source))
    models = [TritonModelClient(settings.triton.url, spec, settings.triton.timeout_s)
              for spec in specs]
    for model in models:
        stack.callback(model.close)
    pipeline = Pipeline(settings, consumer, producer, extractor, models, hooks=hooks,
                        window=window, max_events_per_s=max_events_per_s)
    if metrics is not None:
        from consumer.observability.health import HealthServer, PipelineProbes
        from consumer.observability.metrics import WorkerPoolCollector

        registry.register(WorkerPoolCollector(lambda: extractor.restarts,
                                              lambda: extractor.pending))
        probes = PipelineProbes(pipeline, [model.ready for model in models],
                                liveness_timeout_s=settings.metrics.liveness_timeout_s)
        try:
            server = HealthServer(settings.metrics.host, settings.metrics.port, registry,
                                  probes.live, probes.ready)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {settings.metrics.host}:"
                              f"{settings.metrics.port}: {exc}") from exc
        stack.callback(server.close)
    return pipeline
