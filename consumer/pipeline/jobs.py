"""One video in flight: from its event to its acknowledged outputs."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from consumer.errors import InferenceError
from consumer.events import UploadEvent
from consumer.media import Keyframes
from consumer.publishing.records import SourceRef


@dataclass
class VideoJob:
    """State of one event; `job_id` is unique for the process (offsets repeat after revoke)."""

    job_id: int
    source: SourceRef
    value: bytes
    headers: list[tuple[str, bytes | None]]
    received_at: float
    event: UploadEvent | None = None
    decode: Future[Keyframes] | None = None
    keyframes: Keyframes | None = None
    scores: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    rows_left: dict[str, int] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    inference_error: InferenceError | None = None
    acks_left: int = 0
    published: bool = False  # outputs handed to the producer: never a second verdict
    dead_letter_headers: list[tuple[str, bytes]] | None = None  # to re-fit a refused copy
    dead_letter_shrinks: int = 0

    @property
    def tp(self) -> tuple[str, int]:
        return (self.source.topic, self.source.partition)

    def inference_done(self) -> bool:
        return all(left == 0 for left in self.rows_left.values())
