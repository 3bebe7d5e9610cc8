"""One upload event through the smoke path: produce -> consume -> Triton smoke model."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np

from consumer.logs import kafka_logged
from consumer.settings import Settings


def run_smoke(settings: Settings, timeout_s: float = 30.0) -> dict[str, Any]:
    """Produce one upload event, read it back, infer on the smoke model; return what happened."""
    import tritonclient.grpc as grpcclient
    from confluent_kafka import Consumer, Producer

    video_id = f"smoke-{uuid.uuid4().hex[:12]}"
    event = {"video_id": video_id, "uri": "file:///dev/null",
             "uploaded_at": datetime.now(UTC).isoformat(), "content_type": "video/mp4"}
    kafka = kafka_logged(settings.kafka.librdkafka_config())
    topic = settings.kafka.topics.input
    producer = Producer({**kafka, "enable.idempotence": True})
    producer.produce(topic, key=video_id, value=json.dumps(event))
    if producer.flush(timeout_s) != 0:
        raise TimeoutError(f"event not acknowledged by {settings.kafka.bootstrap_servers}")

    consumer = Consumer({**kafka, "group.id": f"vmc-smoke-{video_id}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout_s
    found = None
    try:
        while found is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error() and msg.key() == video_id.encode():
                found = msg
    finally:
        consumer.close()
    if found is None:
        raise TimeoutError(f"event {video_id} not read back from {topic}")

    client = grpcclient.InferenceServerClient(settings.triton.url)
    pixels = np.frombuffer(video_id.encode()[:4], dtype=np.uint8).reshape(1, 4)
    tensor = grpcclient.InferInput("INPUT", [1, 4], "UINT8")
    tensor.set_data_from_numpy(pixels)
    result = client.infer("smoke", [tensor], client_timeout=settings.triton.timeout_s)
    return {
        "video_id": video_id,
        "source": {"topic": found.topic(), "partition": found.partition(),
                   "offset": found.offset()},
        "triton": {"model": "smoke", "input": pixels.tolist(),
                   "output": result.as_numpy("OUTPUT").tolist()},
    }
