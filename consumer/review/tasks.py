"""Review tasks: a verdict that needs people, as one record a reviewer's tool can show. Pure.

Every `review` verdict becomes a task; so does an audit sample of `allow` and `block` verdicts
(reviewers checking what the system decided alone). The sample is a function of the verdict
id, not a random draw: a redelivered event has the same verdict id, so it yields the same task
or none, and the review topic (keyed by video) absorbs the duplicate like the verdicts topic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from consumer.review_settings import ReviewSettings

TASK_SCHEMA = "vmc.review/1"
# Tags fields that are bookkeeping, not evidence.
_NOT_EVIDENCE = frozenset({"verdict_id", "video_id", "run_id", "source", "processed_at",
                           "coverage"})


def audit_draw(verdict_id: str) -> float:
    """A number in [0, 1) fixed by the verdict id: the audit sample takes those below its
    rate, so raising the rate keeps every video sampled before."""
    digest = hashlib.sha256(b"vmc.audit:" + verdict_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def sampled_because(verdict: str, verdict_id: str, settings: ReviewSettings) -> str | None:
    """Why this verdict goes to people: `review` (it asks for them), `audit_allow` or
    `audit_block` (the audit sample); None when it does not."""
    if verdict == "review":
        return "review"
    rate = {"allow": settings.audit_allow_rate, "block": settings.audit_block_rate}.get(verdict)
    if rate is not None and audit_draw(verdict_id) < rate:
        return f"audit_{verdict}"
    return None


def review_task(verdict: Mapping[str, Any], tags: Mapping[str, Any], *, sampled: str,
                frames_at_s: Sequence[float], uploaded_at: datetime | None) -> dict[str, Any]:
    """The task of one verdict: what was decided and why (reasons with their times), the
    analysed frames' times and every signal's evidence as the tags record carries it (labels
    with scores, text read, frame hashes, bank entries, music)."""
    return {
        "schema": TASK_SCHEMA,
        "task_id": verdict["verdict_id"],  # one task per verdict: upserts absorb redelivery
        "video_id": verdict["video_id"],
        "verdict_id": verdict["verdict_id"],
        "verdict": verdict["verdict"],
        "sampled": sampled,
        "policy_version": verdict["policy_version"],
        "reasons": list(verdict.get("reasons", [])),
        "scores": dict(verdict.get("scores", {})),
        "frames_at_s": [round(float(t), 3) for t in frames_at_s],
        "evidence": {k: v for k, v in tags.items() if k not in _NOT_EVIDENCE},
        "coverage": verdict.get("coverage"),
        "duration_s": verdict.get("duration_s"),
        "uploaded_at": None if uploaded_at is None else
        uploaded_at.isoformat().replace("+00:00", "Z"),
        "decided_at": verdict.get("processed_at"),
        "source": verdict.get("source"),
    }
