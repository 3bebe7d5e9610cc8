"""Known content's matches in the signals record, and back under the current settings. Pure.

The record keeps every match the live banks made (suppressed ones too, with the upload frames
each matched). Restoring re-applies the current bank rules the way matching would: a bank
removed or disabled drops its matches, its action is the one configured now, a match farther
than its `max_distance` or below its shares no longer holds, and an allow bank's frames
suppress another bank's match that does not hold without them.

What a draft cannot do from the record: find matches the live banks did not make (a larger
`max_distance`, lower shares, a new bank). The query share without the allowed frames is
recomputed exactly; the compared share is kept as recorded (the bank is not loaded).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from consumer.signals.known_content.matching import (
    ALLOW,
    VARIANTS,
    EntryMatch,
    Variant,
    rule_holds,
)
from consumer.signals.known_content.settings import HashListRule, KnownContentSettings


def matches_json(matches: list[EntryMatch]) -> list[dict[str, Any]]:
    return [{"bank": m.bank, "action": m.action, "entry": m.entry, "entry_id": m.entry_id,
             "kind": m.kind, "label": m.label, "distance": m.distance, "at_s": m.at_s,
             "entry_at_s": m.entry_at_s, "variant": m.variant, "query_share": m.query_share,
             "compared_share": m.compared_share, "covered_s": m.covered_s,
             "frames": list(m.frames), "suppressed_by": m.suppressed_by} for m in matches]


def _match(item: Any) -> EntryMatch:
    try:
        kind, variant = item["kind"], item["variant"]
        if kind not in ("frame", "video") or variant not in VARIANTS:
            raise ValueError(f"kind {kind!r} or variant {variant!r}")
        label = item.get("label")
        return EntryMatch(
            bank=str(item["bank"]), action=str(item["action"]), entry=int(item["entry"]),
            entry_id=str(item["entry_id"]), kind=kind,
            label=None if label is None else str(label), distance=int(item["distance"]),
            at_s=float(item["at_s"]), entry_at_s=float(item["entry_at_s"]),
            variant=cast(Variant, variant), query_share=float(item["query_share"]),
            compared_share=float(item["compared_share"]), covered_s=float(item["covered_s"]),
            decides=True, frames=tuple(int(f) for f in item["frames"]),
            suppressed_by=item.get("suppressed_by"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"known_content: malformed match {item!r:.200}") from exc


def _holds(rule: HashListRule, match: EntryMatch, query_share: float) -> bool:
    return match.distance <= rule.max_distance and rule_holds(
        rule, match.kind, query_share, match.compared_share)


def restore_matches(data: Any, section: KnownContentSettings) -> list[EntryMatch]:
    """The recorded matches that the current bank rules still take, allow banks applied."""
    if not isinstance(data, list):
        raise ValueError("known_content: matches are not a list")
    rules = {rule.name: rule for rule in section.lists if rule.enabled}
    held: list[tuple[HashListRule, EntryMatch]] = []
    for match in (_match(item) for item in data):
        rule = rules.get(match.bank)
        if rule is not None and _holds(rule, match, match.query_share):
            held.append((rule, replace(match, action=rule.action, suppressed_by=None)))
    allowed: dict[int, str] = {}
    for rule, match in held:
        if rule.action == ALLOW:
            for frame in match.frames:
                allowed.setdefault(frame, match.bank)
    out = []
    for rule, match in held:
        overlap = [f for f in match.frames if f in allowed]
        if rule.action == ALLOW or not overlap:
            out.append(match)
            continue
        kept = tuple(f for f in match.frames if f not in allowed)
        analysed = len(match.frames) / match.query_share if match.query_share else 0.0
        share = len(kept) / analysed if analysed else 0.0
        if kept and _holds(rule, match, share):
            out.append(replace(match, frames=kept, query_share=share))
        else:
            out.append(replace(match, suppressed_by=allowed[overlap[0]]))
    return out
