"""The Kafka records of one event's outcome: verdict, tags, and the DLQ copy.

Keyed by video id (so one video's records stay in order on one partition), each with the run
and the source offset in headers. The spine decides what an event's outcome is; this module
only turns it into records, each fitted to its topic's size limit (`fitting`, `dlq`): what
the broker would refuse as too large would otherwise stop the consumer on every restart.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from consumer.events.source import SourceRef
from consumer.policy.decide import Decision
from consumer.publishing.dlq import Headers, dlq_headers, fit_dead_letter
from consumer.publishing.fitting import Fitted, fit_tags, fit_verdict
from consumer.publishing.limits import RecordLimits
from consumer.publishing.records import tags_record, verdict_record
from consumer.publishing.signals_record import fit_signals
from consumer.settings import KafkaTopics

log = logging.getLogger("consumer.publishing")

# Told what was cut from a record: its topic kind ("verdicts", "tags", "dlq") and the counts.
OnTruncated = Callable[[str, Mapping[str, int]], None]


class Record(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    # The same record fitted again to a smaller limit (bytes), for a broker that refuses it
    # as too large: its topic's limit is below what was read at start-up.
    refit: Callable[[int], Record] | None = None


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
                 model_versions: Mapping[str, str], limits: RecordLimits,
                 on_truncated: OnTruncated | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.topics = topics
        self.run_id = run_id
        self.policy_version = policy_version
        self.model_versions = dict(model_versions)
        self.limits = limits
        self.on_truncated = on_truncated
        self.now = now

    def verdict(self, source: SourceRef, video_id: str, decision: Decision, *,
                versions: Mapping[str, str], uploaded_at: datetime | None,
                keyframes_analyzed: int, duration_s: float | None,
                coverage: Mapping[str, Any] | None = None) -> tuple[Record, dict[str, Any]]:
        """The verdict record and its contents as sent, fitted to the verdicts topic (the
        caller reports verdict and latency)."""
        now = self.now()
        models = {name: versions.get(name, version)
                  for name, version in self.model_versions.items()}
        verdict = verdict_record(
            video_id=video_id, decision=decision, source=source, models=models,
            policy_version=self.policy_version, run_id=self.run_id,
            keyframes_analyzed=keyframes_analyzed, duration_s=duration_s, processed_at=now,
            latency_s=latency_s(uploaded_at, now), coverage=coverage)
        record, fitted = self._fitted("verdicts", source, verdict, self.limits.verdicts_bytes)
        return record, fitted.record

    def tags(self, source: SourceRef, verdict: Mapping[str, Any], *,
             fields: Mapping[str, Any], technical: Mapping[str, Any],
             coverage: Mapping[str, Any] | None) -> Record:
        """The tags record: each signal's `fields`, coverage and technical facts."""
        tags = tags_record(video_id=verdict["video_id"], verdict_id_=verdict["verdict_id"],
                           fields=fields, technical=technical, source=source,
                           run_id=self.run_id, processed_at=self.now(), coverage=coverage)
        return self._fitted("tags", source, tags, self.limits.tags_bytes)[0]

    def signals(self, source: SourceRef, record: Mapping[str, Any]) -> Record:
        """The signals record (`signals_record`), fitted to the signals topic."""
        headers = [("vmc.run_id", self.run_id.encode()), ("vmc.source", str(source).encode())]
        key = str(record["video_id"]).encode()

        def build(limit: int) -> Record:
            value, cuts = fit_signals(record, limit, key=key, headers=headers)
            if cuts:
                log.warning("%s: signals record cut to fit %d bytes: %s", source, limit, cuts)
                if self.on_truncated is not None:
                    self.on_truncated("signals", cuts)
            return Record(self.topics.signals, key, value, headers, build)

        return build(self.limits.signals_bytes)

    def own(self, source: SourceRef, output: str, video_id: str,
            record: Mapping[str, Any]) -> Record:
        """A record a signal publishes on a topic of its own (`output`: a `KafkaTopics`
        field), keyed by video, with the run id added; its size is the signal's to bound."""
        headers = [("vmc.run_id", self.run_id.encode()), ("vmc.source", str(source).encode())]
        value = json.dumps({"video_id": video_id, **record, "run_id": self.run_id},
                           separators=(",", ":")).encode()
        return Record(getattr(self.topics, output), video_id.encode(), value, headers)

    def dead_letter(self, source: SourceRef, value: bytes,
                    original: Sequence[tuple[str, bytes | None]], *, stage: str,
                    error: BaseException, reason: str,
                    video_id: str | None) -> tuple[Record, Headers]:
        """The original bytes, cut to what the producer and the DLQ topic accept; also the
        full headers, to cut the copy again if the broker still refuses it."""
        headers = dlq_headers(stage=stage, error=error, reason=reason, attempt=1, source=source,
                              original=original, run_id=self.run_id)
        key = video_id.encode() if video_id is not None else None
        letter = fit_dead_letter(key, value, headers, self.limits.dead_letter_bytes)
        if len(letter.value) < len(value) and self.on_truncated is not None:
            self.on_truncated("dlq", {"value": 1})
        return Record(self.topics.dlq, letter.key, letter.value, letter.headers), headers

    def _fitted(self, kind: str, source: SourceRef, content: Mapping[str, Any],
                limit_bytes: int) -> tuple[Record, Fitted]:
        """The record cut to `limit_bytes`; it can be fitted again to a smaller limit."""
        topic = self.topics.verdicts if kind == "verdicts" else self.topics.tags
        fit = fit_verdict if kind == "verdicts" else fit_tags
        headers = [("vmc.run_id", self.run_id.encode()), ("vmc.source", str(source).encode())]
        key = str(content["video_id"]).encode()

        def build(limit: int) -> tuple[Record, Fitted]:
            fitted = fit(content, limit, key=key, headers=headers)
            if fitted.truncated:
                log.warning("%s: %s record cut to fit %d bytes: %s", source, kind, limit,
                            fitted.truncated)
                if self.on_truncated is not None:
                    self.on_truncated(kind, fitted.truncated)
            return Record(topic, key, fitted.value, headers, lambda less: build(less)[0]), fitted

        return build(limit_bytes)
