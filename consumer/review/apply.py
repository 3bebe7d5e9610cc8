"""What one decision changes, decided without I/O: the banks' wanted state for its video.

Decisions are applied idempotently and in any order. A decision seen before (same id) is a
`duplicate` and changes nothing. For one video, the latest decision by `time` (its id breaks
ties) decides bank membership whatever the arrival order: a later `not_violating` takes a
confirmed entry out again; an older decision arriving late is recorded (calibration counts it)
but is `superseded`. The banks' wanted state of a video:
- `violating`: its analysed frames' hashes as an entry of the confirmed bank (named after the
  video); no allow entries;
- `not_violating`: no confirmed entry; every bank entry its verdict matched
  (`known_content_match` reasons) copied into the allow bank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consumer.review.decisions import ReviewDecision

KNOWN_CONTENT = "known_content_match"


@dataclass(frozen=True)
class Effective:
    """The decision that decides a video's banks now, and the entries it put there."""

    decision_id: str
    time: datetime
    confirmed: bool
    allowed: tuple[tuple[str, str], ...] = ()  # (bank, entry) copied into the allow bank


@dataclass(frozen=True)
class Change:
    """What applying one decision does: `outcome` is applied | superseded | duplicate."""

    outcome: str
    effective: Effective | None = None
    confirm: bool = False  # write the video's confirmed entry
    unconfirm: bool = False  # remove it
    allow: tuple[tuple[str, str], ...] = ()
    disallow: tuple[tuple[str, str], ...] = ()
    notes: list[str] = field(default_factory=list)


def matched_entries(reasons: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """(bank, entry) of each known-content match among a verdict's reasons, in order, once."""
    out: list[tuple[str, str]] = []
    for reason in reasons:
        if reason.get("category") != KNOWN_CONTENT:
            continue
        bank, entry = reason.get("hash_list"), reason.get("entry")
        if isinstance(bank, str) and isinstance(entry, str) and (bank, entry) not in out:
            out.append((bank, entry))
    return tuple(out)


def newer(decision: ReviewDecision, than: Effective) -> bool:
    return (decision.time, decision.decision_id) > (than.time, than.decision_id)


def change_of(decision: ReviewDecision, *, seen: bool, current: Effective | None,
              reasons: Sequence[Mapping[str, Any]]) -> Change:
    """The change one decision makes, given whether its id was applied before, the video's
    effective decision so far and the reasons of the verdict it decides on."""
    if seen:
        return Change("duplicate", current)
    if current is not None and not newer(decision, current):
        return Change("superseded", current)
    notes = []
    if decision.violating:
        wanted = Effective(decision.decision_id, decision.time, True)
    else:
        allowed = matched_entries(reasons)
        if not allowed and any(r.get("category") == KNOWN_CONTENT for r in reasons):
            notes.append("the known-content match names no entry (a plain list): nothing to "
                         "copy into the allow bank")
        wanted = Effective(decision.decision_id, decision.time, False, allowed)
    before_confirmed = current is not None and current.confirmed
    before_allowed = current.allowed if current is not None else ()
    return Change(
        "applied", wanted,
        confirm=wanted.confirmed,  # written again when re-decided: writing is idempotent
        unconfirm=before_confirmed and not wanted.confirmed,
        allow=tuple(e for e in wanted.allowed if e not in before_allowed),
        disallow=tuple(e for e in before_allowed if e not in wanted.allowed),
        notes=notes)
