"""Build a Pipeline from the settings: Kafka clients, decode workers, Triton clients."""

from __future__ import annotations

import contextlib

from consumer.pipeline.runner import Pipeline, PipelineHooks
from consumer.settings import ConfigError, Settings


def build_pipeline(settings: Settings, stack: contextlib.ExitStack,
                   hooks: PipelineHooks | None = None) -> Pipeline:
    """Wire the edges; `stack` closes them. Inconsistent settings raise `ConfigError`."""
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
    try:
        consumer = Consumer(consumer_config(settings.kafka, group, settings.pipeline))
        producer = Producer(producer_config(settings.kafka, group, settings.pipeline))
    except KafkaException as exc:
        raise ConfigError(f"invalid Kafka client configuration: {exc.args[0].str()}") from exc
    stack.callback(producer.flush, 10)
    extractor = stack.enter_context(KeyframeExtractor(settings.decode, settings.source))
    models = [TritonModelClient(settings.triton.url, spec, settings.triton.timeout_s)
              for spec in specs]
    for model in models:
        stack.callback(model.close)
    return Pipeline(settings, consumer, producer, extractor, models, hooks=hooks)
