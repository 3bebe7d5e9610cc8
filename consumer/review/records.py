"""The review task as a Kafka record, next to the verdict it is about.

Keyed by video (the verdict's key), headers like the verdict's. Only the live run asks for
people: a replay or rescore (another run id) publishes no tasks. A task that would not fit its
topic keeps what was decided and why, and drops the per-signal evidence (marked as cut):
a reviewer still gets the task, and the full evidence is in the tags and signals records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from consumer.publishing.outputs import Record
from consumer.publishing.records import LIVE_RUN_ID, encode
from consumer.review.tasks import review_task, sampled_because
from consumer.review_settings import ReviewSettings


class ReviewTasks:
    def __init__(self, settings: ReviewSettings, topic: str, *, run_id: str,
                 limit_bytes: int) -> None:
        self.settings, self.topic = settings, topic
        self.live = settings.tasks and run_id == LIVE_RUN_ID
        self.run_id, self.limit_bytes = run_id, limit_bytes

    def record(self, verdict: Mapping[str, Any], tags: Record, *,
               frames_at_s: Sequence[float], uploaded_at: datetime | None) -> Record | None:
        """The review task of a verdict as published, or None when it needs no people."""
        if not self.live:
            return None
        sampled = sampled_because(verdict["verdict"], verdict["verdict_id"], self.settings)
        if sampled is None:
            return None
        task = review_task(verdict, json.loads(tags.value), sampled=sampled,
                           frames_at_s=frames_at_s, uploaded_at=uploaded_at)
        value = encode(task)
        if len(value) > self.limit_bytes:
            task["evidence"], task["evidence_cut"] = {}, True
            value = encode(task)
        key = str(verdict["video_id"]).encode()
        return Record(self.topic, key, value, list(tags.headers))
