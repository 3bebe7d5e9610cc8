"""The real parts answer: a Kafka round trip, a Triton inference, a Prometheus scrape."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from consumer.logs import kafka_logged
from consumer.settings import Settings
from tests.integration.conftest import RunningStack


def test_input_topic_has_at_least_six_partitions(stack_settings: Settings) -> None:
    admin = AdminClient(kafka_logged(stack_settings.kafka.librdkafka_config()))
    topics = admin.list_topics(timeout=10).topics
    kafka_topics = stack_settings.kafka.topics
    assert len(topics[kafka_topics.input].partitions) >= 6
    for name in (kafka_topics.verdicts, kafka_topics.tags, kafka_topics.dlq):
        assert name in topics


def test_events_round_trip_through_the_real_broker(stack_settings: Settings, unique: str) -> None:
    topic = stack_settings.kafka.topics.input
    sent = {f"v{i}-{unique}": json.dumps({"video_id": f"v{i}-{unique}", "uri": f"file:///v{i}.mp4"})
            for i in range(60)}
    producer = Producer(kafka_logged({**stack_settings.kafka.librdkafka_config(),
                                      "enable.idempotence": True}))
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value)
    assert producer.flush(20) == 0

    consumer = Consumer(kafka_logged({**stack_settings.kafka.librdkafka_config(),
                                      "group.id": unique, "auto.offset.reset": "earliest",
                                      "enable.auto.commit": False}))
    consumer.subscribe([topic])
    received: dict[str, str] = {}
    partitions: set[int] = set()
    deadline = time.monotonic() + 60
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            key = msg.key().decode()
            if key in sent:
                received[key] = msg.value().decode()
                partitions.add(msg.partition())
    finally:
        consumer.close()
    assert received == sent
    assert len(partitions) > 1, "keys should spread over the input topic's partitions"


def test_triton_infers_the_smoke_model(stack: RunningStack) -> None:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(stack.addresses.triton_grpc)
    assert client.is_server_ready()
    assert client.is_model_ready("smoke")
    batch = np.random.default_rng(7).integers(0, 256, size=(3, 4), dtype=np.uint8)
    tensor = grpcclient.InferInput("INPUT", list(batch.shape), "UINT8")
    tensor.set_data_from_numpy(batch)
    result = client.infer("smoke", [tensor], client_timeout=10)
    out = result.as_numpy("OUTPUT")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, batch.astype(np.float32) * 2)


def test_triton_rejects_a_wrong_dtype_with_a_clear_error(stack: RunningStack) -> None:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(stack.addresses.triton_grpc)
    tensor = grpcclient.InferInput("INPUT", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(InferenceServerException, match=r"(?i)data.type|datatype"):
        client.infer("smoke", [tensor], client_timeout=10)
    assert client.is_server_live()


def test_prometheus_scrapes_triton(stack: RunningStack) -> None:
    if not stack.addresses.prometheus_url:
        pytest.fail("VMC_PROMETHEUS_URL must be set when using an external stack")
    query = urllib.parse.urlencode({"query": 'up{job="triton"}'})
    deadline = time.monotonic() + 30
    value = None
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{stack.addresses.prometheus_url}/api/v1/query?{query}",
                                    timeout=5) as resp:
            result = json.load(resp)["data"]["result"]
        if result:
            value = result[0]["value"][1]
            if value == "1":
                break
        time.sleep(1)
    assert value == "1", f"Prometheus never scraped Triton (last up={value})"
