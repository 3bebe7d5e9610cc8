"""Reviewers' decisions as they arrive on the decisions topic: parsed, checked, given an id.

A decision is JSON: `video_id`, `verdict_id`, `decision` (`violating` | `not_violating`),
`categories` (list), `reviewer`, `time` (ISO 8601 with a zone), optional `note` and `id`.
Without an `id`, its id is a hash of what makes it one decision (video, verdict, reviewer,
time, decision), so the same decision sent twice is recognised as one. Anything else is a
`MalformedDecision`, which the consumer sends to the DLQ with its message. Pure.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumer.events.bounded_json import loads as loads_bounded

VIOLATING = "violating"
NOT_VIOLATING = "not_violating"
MAX_DECISION_BYTES = 64 * 1024
_MAX_TEXT = 512


class DecisionError(Exception):
    """A decision that cannot be applied; `reason` is its stable name (DLQ header, metric)."""

    reason = "decision_error"


class MalformedDecision(DecisionError):
    """Not a decision: not JSON, a field missing or of the wrong kind."""

    reason = "malformed_decision"


class UnknownVerdict(DecisionError):
    """The decision names a verdict the signals topic never carried (after waiting for it)."""

    reason = "unknown_verdict"


@dataclass(frozen=True)
class ReviewDecision:
    decision_id: str
    video_id: str
    verdict_id: str
    decision: str
    categories: tuple[str, ...]
    reviewer: str
    time: datetime
    note: str | None = None

    @property
    def violating(self) -> bool:
        return self.decision == VIOLATING


def decision_id(video_id: str, verdict_id: str, reviewer: str, time: datetime,
                decision: str) -> str:
    material = json.dumps([video_id, verdict_id, reviewer, time.isoformat(), decision],
                          separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _text(raw: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT:
        raise MalformedDecision(f"`{name}` must be a non-empty string of at most {_MAX_TEXT} "
                                f"characters, got {value!r:.80}")
    return value


def parse_decision(value: bytes | None) -> ReviewDecision:
    """One decision record's value -> the decision; raises `MalformedDecision`."""
    if value is None:
        raise MalformedDecision("empty record (a tombstone is not a decision)")
    if len(value) > MAX_DECISION_BYTES:
        raise MalformedDecision(f"{len(value)} bytes, more than {MAX_DECISION_BYTES}")
    try:
        raw = loads_bounded(value).value
    except ValueError as exc:
        raise MalformedDecision(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise MalformedDecision("not a JSON object")
    video_id, verdict_id = _text(raw, "video_id"), _text(raw, "verdict_id")
    reviewer, kind = _text(raw, "reviewer"), _text(raw, "decision")
    assert video_id and verdict_id and reviewer and kind
    if kind not in (VIOLATING, NOT_VIOLATING):
        raise MalformedDecision(f"`decision` must be {VIOLATING} or {NOT_VIOLATING}, got "
                                f"{kind!r:.80}")
    categories = raw.get("categories", [])
    if not isinstance(categories, list) or not all(
            isinstance(c, str) and 0 < len(c) <= 64 for c in categories) or len(categories) > 32:
        raise MalformedDecision("`categories` must be a list of short strings")
    moment = _time(raw.get("time"))
    note = _text(raw, "note", required=False)
    given = _text(raw, "id", required=False)
    return ReviewDecision(given or decision_id(video_id, verdict_id, reviewer, moment, kind),
                          video_id, verdict_id, kind, tuple(categories), reviewer, moment, note)


def _time(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedDecision(f"`time` must be an ISO 8601 time, got {value!r:.80}") from exc
    if not isinstance(value, str) or moment.tzinfo is None:
        raise MalformedDecision(f"`time` must be an ISO 8601 time with a zone, got "
                                f"{value!r:.80}")
    return moment.astimezone(UTC)
