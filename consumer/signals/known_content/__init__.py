"""Known content: a PDQ hash of every analysed frame (computed in the decode worker), matched
against banks of known content (files or object-store objects, reloaded when they change).
A bank's match adds its action (block, review); a shadow bank's match is only counted and
tagged; an allow bank's match suppresses other banks' matches of the same frames; an entry
matching too many videos is quarantined (block becomes review). The frame hashes are also
tags."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar

from consumer.media import Keyframes
from consumer.media.frame_hash import FrameHash
from consumer.policy.decide import BLOCK, KNOWN_CONTENT, REVIEW, Reason
from consumer.signals.base import Evidence, Finding, Needs, Opening, Signal, SignalSettings
from consumer.signals.known_content.flood import FloodGuard
from consumer.signals.known_content.matching import ALLOW, EntryMatch, match_banks
from consumer.signals.known_content.recorded import matches_json, restore_matches
from consumer.signals.known_content.settings import KnownContentSettings
from consumer.signals.known_content.store import HashListStore

FLOOD_QUARANTINE = "flood_quarantine"
MAX_MATCHES_PER_BANK = 10  # reasons and tags per bank, closest first: a bound on the records


class KnownContent(Signal):
    name: ClassVar[str] = "known_content"
    settings_model: ClassVar[type[SignalSettings]] = KnownContentSettings
    section: KnownContentSettings
    store: HashListStore | None = None
    metrics: Any = None
    flood: FloodGuard | None = None

    def needs(self) -> Needs:
        return Needs(frame_hashes=self.section.frame_hashes)

    @property
    def active(self) -> bool:
        return self.store is not None  # banks loaded

    def open(self, opening: Opening) -> None:
        """The enabled banks, loaded now (one that cannot be read stops the start), then
        watched; a disabled bank is neither loaded nor matched (its metric says so)."""
        section, metrics = self.section, opening.metrics
        self.metrics = metrics
        self.flood = FloodGuard(section.flood_max_videos, section.flood_window_s,
                                section.flood_max_entries)
        enabled = [rule for rule in section.lists if rule.enabled]
        if metrics is not None and section.lists:
            metrics.known_content_banks({r.name: (r.action, r.enabled) for r in section.lists},
                                        self.flood.quarantined)
        if not enabled:
            return
        callbacks: dict[str, Any] = {} if metrics is None else {
            "on_error": metrics.hash_list_error, "on_loaded": metrics.hash_list_loaded,
            "on_malformed": metrics.hash_list_malformed_lines}
        self.store = HashListStore(enabled, reload_s=section.reload_s,
                                   min_keep_ratio=section.min_keep_ratio, **callbacks)
        if not opening.one_off:
            self.store.start()
            opening.stack.callback(self.store.close)

    def match(self, keyframes: Keyframes) -> list[EntryMatch]:
        if self.store is None or not keyframes.hashes:
            return []
        return match_banks(self.store.lists, keyframes.hashes, keyframes.pts_s,
                           keyframes.probe.duration_s)

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        """Each bank's matches, closest first: block/review banks add their action (a block
        entry in flood quarantine adds review), shadow and allow banks only tags and metrics;
        a match suppressed by an allow bank adds nothing."""
        # Live matches first: suppressed ones (tags only) must never crowd a live match out of
        # the per-bank bound, or a bank's hit would go unreported (fail open).
        matches: list[EntryMatch] = sorted(
            matched or [], key=lambda m: (m.suppressed_by is not None, m.distance, m.at_s))
        keyframes = evidence.keyframes
        frames = [frame_tags(t, h) for t, h in zip(keyframes.pts_s, keyframes.hashes,
                                                   strict=False)]
        video = evidence.video_id or _content_key(keyframes)
        reasons: list[Reason] = []
        tagged: list[dict[str, Any]] = []
        counted: set[tuple[str, str]] = set()
        per_bank: dict[str, int] = {}
        for match in matches:
            per_bank[match.bank] = per_bank.get(match.bank, 0) + 1
            if per_bank[match.bank] > MAX_MATCHES_PER_BANK:
                continue
            action, demoted = self._action(match, video)
            if action in (BLOCK, REVIEW):
                reasons.append(entry_reason(match, action, demoted))
            tagged.append(entry_tags(match, action, demoted))
            self._count(match, action, demoted, counted)
        return Finding(reasons=reasons, tags={"frames": frames, "known_content": tagged},
                       matched=sorted({r.hash_list for r in reasons if r.hash_list}))

    def record(self, matched: Any) -> Any:
        return matches_json(matched or [])

    def restore(self, data: Any) -> list[EntryMatch]:
        return restore_matches(data or [], self.section)

    def _action(self, match: EntryMatch, video: str) -> tuple[str, bool]:
        """The action this match takes (`suppressed` when an allow bank took it out) and
        whether a block was demoted by the flood quarantine."""
        if match.suppressed_by is not None:
            return "suppressed", False
        if match.action == ALLOW or self.flood is None:
            return match.action, False
        quarantined = self.flood.record((match.bank, match.entry_id), video)
        if quarantined and match.action == BLOCK:
            return REVIEW, True
        return match.action, False

    def _count(self, match: EntryMatch, action: str, demoted: bool,
               counted: set[tuple[str, str]]) -> None:
        """Metrics once per video and (bank, action)."""
        if self.metrics is None or (match.bank, action) in counted:
            return
        counted.add((match.bank, action))
        if match.suppressed_by is not None:
            self.metrics.known_content_suppressed(match.bank, match.suppressed_by)
            return
        self.metrics.known_content_match(match.bank, action)
        if demoted:
            self.metrics.known_content_demoted(match.bank)


def frame_tags(at_s: float, frame: FrameHash) -> dict[str, Any]:
    """A frame's hashes as tags: what `vmc bank add --from-tags` banks (`pdq`, the content
    box's) and, where they exist, the mirror image's and the whole frame's (for search)."""
    tags: dict[str, Any] = {"at_s": round(at_s, 3), "pdq": frame.pdq, "quality": frame.quality}
    if frame.mirror_pdq:
        tags["mirror_pdq"] = frame.mirror_pdq
    if frame.full_pdq:
        tags["full_pdq"] = frame.full_pdq
    return tags


def entry_reason(match: EntryMatch, action: str, demoted: bool = False) -> Reason:
    """The reason names the bank, the entry, its label, the distance, both shares and times."""
    return Reason(KNOWN_CONTENT, None, None, match.at_s, action, match.label, match.bank,
                  match.distance, entry=match.entry_id, entry_at_s=round(match.entry_at_s, 3),
                  query_share=round(match.query_share, 4),
                  compared_share=round(match.compared_share, 4),
                  demoted=FLOOD_QUARANTINE if demoted else None)


def entry_tags(match: EntryMatch, action: str, demoted: bool = False) -> dict[str, Any]:
    tags: dict[str, Any] = {
        "bank": match.bank, "action": action, "bank_action": match.action,
        "entry": match.entry_id, "kind": match.kind, "label": match.label,
        "distance": match.distance, "variant": match.variant, "at_s": round(match.at_s, 3),
        "entry_at_s": round(match.entry_at_s, 3), "query_share": round(match.query_share, 4),
        "compared_share": round(match.compared_share, 4),
        "covered_s": round(match.covered_s, 3)}
    if match.suppressed_by is not None:
        tags["suppressed_by"] = match.suppressed_by
    if demoted:
        tags["demoted"] = FLOOD_QUARANTINE
    return tags


def known_content_reasons(matches: Sequence[EntryMatch]) -> list[Reason]:
    """Per match of a block or review bank its action, closest first (no flood state)."""
    return [entry_reason(m, m.action) for m in sorted(matches, key=lambda m: m.distance)
            if m.suppressed_by is None and m.action in (BLOCK, REVIEW)]



def _content_key(keyframes: Keyframes) -> str:
    """A video's key when no video id is given (one-off judging): its frames' hashes."""
    digest = hashlib.sha256("".join(h.pdq for h in keyframes.hashes).encode())
    return digest.hexdigest()[:32]
