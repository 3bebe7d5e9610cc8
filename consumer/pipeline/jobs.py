"""One video in flight, from its event to its acknowledged outputs, and the registry of them."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from consumer.errors import InferenceError
from consumer.events import SourceRef, UploadEvent
from consumer.inference.triton_client import BatchScores, TextRead
from consumer.media import Keyframes
from consumer.pipeline.matching import Matches
from consumer.pipeline.watermarks import TopicPartition


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
    texts: dict[int, list[TextRead]] = field(default_factory=dict)  # lines read, per frame
    embeddings: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)  # [N, D]
    inference_error: InferenceError | None = None
    given_up: dict[str, str] = field(default_factory=dict)  # model -> why its rows were dropped
    matches: Matches | None = None  # hash lists and catalogues, matched off the loop
    acks_left: int = 0
    published: bool = False  # outputs handed to the producer: never a second verdict
    dead_letter_headers: list[tuple[str, bytes]] | None = None  # to re-fit a refused copy
    dead_letter_shrinks: int = 0

    def keep_extras(self, model: str, index: int, result: BatchScores, row: int) -> None:
        """What a model answered beside its scores for frame `index`: the text it read, its
        embedding (the model's array made on its first answer, a row per frame)."""
        if result.texts is not None:
            self.texts[index] = result.texts[row]
        if result.embeddings is not None:
            if model not in self.embeddings:
                frames, size = len(self.scores[model]), result.embeddings.shape[1]
                self.embeddings[model] = np.full((frames, size), np.nan, np.float32)
            self.embeddings[model][index] = result.embeddings[row]

    @property
    def tp(self) -> TopicPartition:
        return (self.source.topic, self.source.partition)

    def ready(self) -> bool:
        """Every model's rows answered (or given up) and the matching done: judge it."""
        return self.matches is not None and bool(self.rows_left) and \
            all(left == 0 for left in self.rows_left.values())


class Jobs:
    """The videos in flight by id. A forgotten job's late completions find nothing here, so
    work of a revoked partition can never touch the offsets of its next owner's window."""

    def __init__(self) -> None:
        self._jobs: dict[int, VideoJob] = {}
        self._next_id = 0

    def new(self, source: SourceRef, value: bytes, headers: list[tuple[str, bytes | None]],
            now: float) -> VideoJob:
        job = VideoJob(self._next_id, source, value, headers, now)
        self._next_id += 1
        self._jobs[job.job_id] = job
        return job

    def get(self, job_id: int) -> VideoJob | None:
        return self._jobs.get(job_id)

    def forget(self, job: VideoJob) -> None:
        self._jobs.pop(job.job_id, None)

    def on(self, tps: Collection[TopicPartition]) -> list[VideoJob]:
        return [job for job in self._jobs.values() if job.tp in tps]

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[VideoJob]:
        return iter(list(self._jobs.values()))
