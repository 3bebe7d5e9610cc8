"""Music in the soundtrack: every audio stream fingerprinted in the decode worker
(Chromaprint), matched against music catalogues; a track of a `review`/`block` catalogue adds
that action, and with such a catalogue a soundtrack not heard in full is `review`
(incomplete_audio). The tracks heard are tags."""

from __future__ import annotations

from typing import Any, ClassVar

from consumer.media import Keyframes
from consumer.media.chromaprint import version as chromaprint_version
from consumer.signals.base import Evidence, Finding, Needs, Opening, Signal, SignalSettings
from consumer.signals.music.catalogues import (
    CatalogueMatch,
    MusicCatalogues,
    music_reasons,
    music_tags,
)
from consumer.signals.music.recorded import matches_json, restore_matches
from consumer.signals.music.settings import MusicSettings


class Music(Signal):
    name: ClassVar[str] = "music"
    settings_model: ClassVar[type[SignalSettings]] = MusicSettings
    section: MusicSettings
    catalogues: MusicCatalogues | None = None

    def needs(self) -> Needs:
        section = self.section
        return Needs(soundtrack=section.soundtrack, max_soundtrack_s=section.max_soundtrack_s,
                     max_audio_streams=section.max_audio_streams) if section.soundtrack \
            else Needs()

    @property
    def active(self) -> bool:
        return self.catalogues is not None  # catalogues loaded

    def open(self, opening: Opening) -> None:
        """The catalogues, loaded and indexed now (one that cannot be read stops the start),
        and Chromaprint checked in this process before any worker needs it."""
        if not self.section.catalogues:
            return
        chromaprint_version()  # ChromaprintUnavailable (one line) without libchromaprint1
        self.catalogues = MusicCatalogues(self.section)
        if opening.metrics is not None:
            opening.metrics.catalogues_loaded(self.catalogues.sizes)

    def match(self, keyframes: Keyframes) -> list[CatalogueMatch]:
        if self.catalogues is None or not keyframes.audio_fingerprints:
            return []
        return self.catalogues.match(keyframes.audio_fingerprints)

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        matches: list[CatalogueMatch] = matched or []
        keyframes = evidence.keyframes
        enforced = self.catalogues.enforcing if self.catalogues is not None else any(
            c.action in ("review", "block") for c in self.section.catalogues)  # backtests
        return Finding(reasons=music_reasons(matches, audio=keyframes.audio,
                                             why=keyframes.audio_why, enforced=enforced),
                       tags={"music": music_tags(matches)},
                       matched=[m.catalogue for m in matches])

    def record(self, matched: Any) -> Any:
        return matches_json(matched or [])

    def restore(self, data: Any) -> list[CatalogueMatch]:
        return restore_matches(data or [], self.section)
