"""Typed results that come back to the loop: a video decoded or matched, a batch inferred,
Triton probed, a record delivered. Worker and gRPC threads only queue them; the loop's thread
applies them, so all pipeline state has one owner.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message

from consumer.errors import InferenceError
from consumer.inference.batcher import Batch
from consumer.inference.triton_client import BatchScores
from consumer.media import Keyframes
from consumer.pipeline.matching import Matches


@dataclass(frozen=True)
class Decoded:
    """The decode workers finished (or failed) one video."""

    job_id: int
    future: Future[Keyframes]


@dataclass(frozen=True)
class Inferred:
    """Triton answered one batch of one model (scores, or the error that replaced them)."""

    model: str
    batch: Batch[int]
    sent_at: float
    result: BatchScores | InferenceError


@dataclass(frozen=True)
class Matched:
    """The matching thread finished (or failed) one video."""

    job_id: int
    future: Future[Matches]


@dataclass(frozen=True)
class Probed:
    """A health probe's answer: is Triton (and this model) alive?"""

    model: str
    alive: bool


@dataclass(frozen=True)
class Delivered:
    """The producer's report on one record of one event."""

    job_id: int
    error: KafkaError | None
    message: Message | None


Completion = Decoded | Inferred | Matched | Probed


class Completions:
    """A thread-safe queue of completions, drained on the loop's thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Completion] = queue.SimpleQueue()

    def put(self, completion: Completion) -> None:
        self._queue.put(completion)

    def drain(self) -> Iterator[Completion]:
        """Everything queued so far, then stop (what arrives meanwhile is also taken)."""
        while True:
            try:
                yield self._queue.get_nowait()
            except queue.Empty:
                return
