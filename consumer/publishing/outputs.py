"""The Kafka records of one event's outcome: verdict, tags, and the DLQ copy.

Keyed by video id (so one video's records stay in order on one partition), each with the run
and the source offset in headers. The spine decides what an event's outcome is; this module
only turns it into records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from consumer.events.source import SourceRef
from consumer.policy.decide import Decision
from consumer.policy.tagging import LabelTag
from consumer.publishing.dlq import Headers, dlq_headers, fit_dead_letter
from consumer.publishing.records import encode, tags_record, verdict_record
from consumer.settings import KafkaTopics


class Record(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers


def latency_s(uploaded_at: datetime | None, now: datetime) -> float | None:
    """Upload -> verdict; None when the event has no (usable) upload time."""
    if uploaded_at is None or uploaded_at.tzinfo is None:
        return None
    try:
        return (now - uploaded_at).total_seconds()
    except OverflowError:
        return None


class OutputRecords:
    """Builds records for one deployment: its topics, run id, policy and model versions."""

    def __init__(self, topics: KafkaTopics, *, run_id: str, policy_version: str,
                 model_versions: Mapping[str, str], dead_letter_limit_bytes: int,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.topics = topics
        self.run_id = run_id
        self.policy_version = policy_version
        self.model_versions = dict(model_versions)
        self.dead_letter_limit_bytes = dead_letter_limit_bytes
        self.now = now

    def verdict(self, source: SourceRef, video_id: str, decision: Decision, *,
                versions: Mapping[str, str], uploaded_at: datetime | None,
                keyframes_analyzed: int, duration_s: float | None,
                coverage: Mapping[str, Any] | None = None) -> tuple[Record, dict[str, Any]]:
        """The verdict record and its contents (the caller reports verdict and latency)."""
        now = self.now()
        models = {name: versions.get(name, version)
                  for name, version in self.model_versions.items()}
        verdict = verdict_record(
            video_id=video_id, decision=decision, source=source, models=models,
            policy_version=self.policy_version, run_id=self.run_id,
            keyframes_analyzed=keyframes_analyzed, duration_s=duration_s, processed_at=now,
            latency_s=latency_s(uploaded_at, now), coverage=coverage)
        return self._record(self.topics.verdicts, source, verdict), verdict

    def tags(self, source: SourceRef, verdict: Mapping[str, Any], *,
             labels: Sequence[LabelTag], technical: Mapping[str, Any],
             coverage: Mapping[str, Any] | None,
             frames: Sequence[Mapping[str, Any]] = (),
             text: Sequence[Mapping[str, Any]] = (),
             music: Sequence[Mapping[str, Any]] = ()) -> Record:
        tags = tags_record(video_id=verdict["video_id"], verdict_id_=verdict["verdict_id"],
                           labels=labels, technical=technical, source=source,
                           run_id=self.run_id, processed_at=self.now(), coverage=coverage,
                           frames=frames, text=text, music=music)
        return self._record(self.topics.tags, source, tags)

    def dead_letter(self, source: SourceRef, value: bytes,
                    original: Sequence[tuple[str, bytes | None]], *, stage: str,
                    error: BaseException, reason: str,
                    video_id: str | None) -> tuple[Record, Headers]:
        """The original bytes, cut to what the producer and the DLQ topic accept; also the
        full headers, to cut the copy again if the broker still refuses it."""
        headers = dlq_headers(stage=stage, error=error, reason=reason, attempt=1, source=source,
                              original=original, run_id=self.run_id)
        key = video_id.encode() if video_id is not None else None
        letter = fit_dead_letter(key, value, headers, self.dead_letter_limit_bytes)
        return Record(self.topics.dlq, letter.key, letter.value, letter.headers), headers

    def _record(self, topic: str, source: SourceRef, record: Mapping[str, Any]) -> Record:
        headers = [("vmc.run_id", self.run_id.encode()), ("vmc.source", str(source).encode())]
        return Record(topic, str(record["video_id"]).encode(), encode(record), headers)
