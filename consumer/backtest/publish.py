"""`vmc backtest --publish`: the re-decided verdicts, as a rescore, on a topic of choice.

Each is a verdict record like `vmc run`'s (same builder, fitted the same way) under the
draft's policy version and the backtest's run id, so its `verdict_id` is new; it keeps the
recorded source offset and model versions, so it traces back to the event and the evidence.
A record the broker refuses stops the backtest with the error (`PublishError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consumer.errors import ConsumerError
from consumer.events.source import SourceRef
from consumer.pipeline.kafka_clients import client_config
from consumer.policy.decide import Decision
from consumer.publishing.limits import RecordLimits
from consumer.publishing.outputs import OutputRecords
from consumer.settings import Settings

LIMIT_BYTES = 1 << 20


class PublishError(ConsumerError):
    """A re-decided verdict could not be delivered."""


def _uploaded(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


class Rescore:
    def __init__(self, settings: Settings, topic: str, run_id: str) -> None:
        from confluent_kafka import Producer

        self.topics = settings.kafka.topics.model_copy(update={"verdicts": topic})
        self.policy_version = settings.policy.version
        self.run_id = run_id
        self.producer = Producer({**client_config(settings.kafka), "enable.idempotence": True})
        self.errors: list[str] = []
        self.sent = 0
        self._outputs: dict[tuple[tuple[str, str], ...], OutputRecords] = {}

    def _builder(self, versions: Mapping[str, str]) -> OutputRecords:
        key = tuple(sorted(versions.items()))
        if key not in self._outputs:
            self._outputs[key] = OutputRecords(
                self.topics, run_id=self.run_id, policy_version=self.policy_version,
                model_versions=versions, limits=RecordLimits.uniform(LIMIT_BYTES))
        return self._outputs[key]

    def publish(self, record: Mapping[str, Any], decision: Decision) -> None:
        source = record.get("source") or {}
        ref = SourceRef(str(source.get("topic", "")), int(source.get("partition", -1)),
                        int(source.get("offset", -1)))
        versions = {str(k): str(v) for k, v in (record.get("model_versions") or {}).items()}
        verdict, _ = self._builder(versions).verdict(
            ref, str(record["video_id"]), decision, versions=versions,
            uploaded_at=_uploaded(record.get("uploaded_at")),
            keyframes_analyzed=int(record.get("keyframes_analyzed") or 0),
            duration_s=record.get("duration_s"), coverage=record.get("coverage"))
        self.producer.produce(verdict.topic, verdict.value, verdict.key,
                              headers=list(verdict.headers), on_delivery=self._delivered)
        self.producer.poll(0)

    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self.errors.append(f"{message.topic()}: {error}")
        else:
            self.sent += 1

    def close(self) -> int:
        """Everything delivered (or `PublishError`); returns the number sent."""
        left = self.producer.flush(30)
        if self.errors or left:
            raise PublishError(f"{len(self.errors)} re-decided verdicts refused, {left} "
                               f"undelivered: {self.errors[:3]}")
        return self.sent
