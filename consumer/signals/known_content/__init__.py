"""Known content: a PDQ hash of every analysed frame (computed in the decode worker), matched
against hash lists of known content (files or object-store objects, reloaded when they
change); a match adds the list's action. The frame hashes are also tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from consumer.media import Keyframes
from consumer.policy.decide import KNOWN_CONTENT, Reason
from consumer.signals.base import Evidence, Finding, Needs, Opening, Signal, SignalSettings
from consumer.signals.known_content.lists import HashMatch
from consumer.signals.known_content.settings import KnownContentSettings
from consumer.signals.known_content.store import HashListStore


class KnownContent(Signal):
    name: ClassVar[str] = "known_content"
    settings_model: ClassVar[type[SignalSettings]] = KnownContentSettings
    section: KnownContentSettings
    store: HashListStore | None = None

    def needs(self) -> Needs:
        return Needs(frame_hashes=self.section.frame_hashes)

    @property
    def active(self) -> bool:
        return self.store is not None  # lists loaded

    def open(self, opening: Opening) -> None:
        """The lists, loaded now (one that cannot be read stops the start), then watched."""
        section, metrics = self.section, opening.metrics
        if not section.lists:
            return
        callbacks: dict[str, Any] = {} if metrics is None else {
            "on_error": metrics.hash_list_error, "on_loaded": metrics.hash_list_loaded,
            "on_malformed": metrics.hash_list_malformed_lines}
        self.store = HashListStore(section.lists, reload_s=section.reload_s,
                                   min_keep_ratio=section.min_keep_ratio, **callbacks)
        if not opening.one_off:
            self.store.start()
            opening.stack.callback(self.store.close)

    def match(self, keyframes: Keyframes) -> list[HashMatch]:
        if self.store is None or not keyframes.hashes:
            return []
        return self.store.match(keyframes.hashes, keyframes.pts_s)

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        """A frame matching a list adds the list's action, whatever the scores say."""
        matches: list[HashMatch] = matched or []
        keyframes = evidence.keyframes
        frames = [{"at_s": round(t, 3), "pdq": h.pdq, "quality": h.quality}
                  for t, h in zip(keyframes.pts_s, keyframes.hashes, strict=False)]
        return Finding(reasons=known_content_reasons(matches), tags={"frames": frames},
                       matched=[m.list_name for m in matches])


def known_content_reasons(matches: Sequence[HashMatch]) -> list[Reason]:
    """Per matched list its action, closest first; the reason names the list, the label
    and the bit distance."""
    return [Reason(KNOWN_CONTENT, None, None, m.at_s, m.action, m.label, m.list_name, m.distance)
            for m in sorted(matches, key=lambda m: m.distance)]
