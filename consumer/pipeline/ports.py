"""The edges the spine talks to, as small Protocols: confluent-kafka's Consumer and Producer,
the decode workers and the Triton clients satisfy them, and so do the fakes of the unit tests.

Only the calls the pipeline makes are listed; Kafka's data types (Message, TopicPartition,
KafkaError) are confluent-kafka's own, which are plain values and need no broker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Literal, Protocol

from confluent_kafka import KafkaError, Message, TopicPartition

from consumer.errors import InferenceError
from consumer.inference.triton_client import BatchScores
from consumer.media import Keyframes, ResizeSpec
from consumer.models.specs import ModelSpec
from consumer.pixels import Pixels

DeliveryCallback = Callable[[KafkaError | None, Message], None]
# confluent-kafka's header types: a list of pairs, or a dict.
KafkaHeaders = list[tuple[str, str | bytes | None]] | dict[str, str | bytes | None]
RebalanceCallback = Callable[[Any, list[TopicPartition]], None]


def message_headers(msg: Message) -> list[tuple[str, bytes | None]]:
    """A message's headers as (name, bytes) pairs, whichever form the client gave them in."""
    headers = msg.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return [(name, value.encode() if isinstance(value, str) else value)
            for name, value in pairs]


class KafkaConsumer(Protocol):
    def subscribe(self, topics: list[str], on_assign: RebalanceCallback | None = ...,
                  on_revoke: RebalanceCallback | None = ...,
                  on_lost: RebalanceCallback | None = ...) -> None: ...
    def assign(self, partitions: list[TopicPartition]) -> None: ...
    def poll(self, timeout: float = ...) -> Message | None: ...
    def consume(self, num_messages: int = ..., timeout: float = ...) -> list[Message]: ...
    def commit(self, *, offsets: list[TopicPartition],
               asynchronous: Literal[False]) -> list[TopicPartition] | None: ...
    def pause(self, partitions: list[TopicPartition]) -> None: ...
    def resume(self, partitions: list[TopicPartition]) -> None: ...
    def list_topics(self, topic: str | None = ..., timeout: float = ...) -> Any: ...
    def consumer_group_metadata(self) -> Any: ...
    def close(self) -> None: ...


class KafkaProducer(Protocol):
    def produce(self, topic: str, *, value: bytes | None = ..., key: bytes | None = ...,
                on_delivery: DeliveryCallback | None = ...,
                headers: KafkaHeaders | None = ...) -> None: ...
    def poll(self, timeout: float = ...) -> int: ...
    def flush(self, timeout: float = ...) -> int: ...
    def init_transactions(self, timeout: float = ...) -> None: ...
    def begin_transaction(self) -> None: ...
    def send_offsets_to_transaction(self, positions: list[TopicPartition], group_metadata: Any,
                                    timeout: float = ...) -> None: ...
    def commit_transaction(self, timeout: float = ...) -> None: ...
    def abort_transaction(self, timeout: float = ...) -> None: ...


class Extractor(Protocol):
    """Decode workers: keyframes of one video, resized once per model input."""

    def submit(self, uri: str, specs: Sequence[ResizeSpec]) -> Future[Keyframes]: ...


class ModelClient(Protocol):
    """One served model; `done` is called once per request, from any thread."""

    spec: ModelSpec

    def infer_async(self, rows: Sequence[Pixels],
                    done: Callable[[BatchScores | InferenceError], None]) -> None:
        """Rows ([H, W, C] uint8, host arrays or device tensors) of one batch."""

    def ready(self) -> bool: ...
