"""Music in the soundtrack: catalogue matches -> tags and, per catalogue, an action.

A catalogue is loaded once at start (a file that cannot be read, or holds no track unless its
settings allow it, stops start-up, like a hash list); matching runs off the poll loop, on the
fingerprints the decode worker computed, one per audio stream. A soundtrack not heard in full
(`partial`, `undecodable`) cannot clear an upload of catalogue music: with a `review`/`block`
catalogue configured it is `review` (`incomplete_audio`); with only `tag` catalogues nothing
rides on it and nothing changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consumer.errors import ConfigError
from consumer.media.soundtrack import PARTIAL, UNDECODABLE, StreamFingerprint
from consumer.policy.decide import INCOMPLETE_AUDIO, MUSIC_MATCH, REVIEW, Decision, Reason, escalate
from consumer.signals.music.catalogue import Track, load_catalogue
from consumer.signals.music.matching import CatalogueIndex, MusicMatch
from consumer.signals.music.settings import MusicCatalogue, MusicSettings

log = logging.getLogger("consumer.signals.music")


@dataclass(frozen=True)
class CatalogueMatch:
    catalogue: str
    action: str  # tag, review or block
    match: MusicMatch
    stream: int  # the audio stream it plays in (its index in the container)


def music_tags(matches: Sequence[CatalogueMatch]) -> list[dict[str, Any]]:
    """The `music` tags: which track plays where, in upload order."""
    return [{"catalogue": m.catalogue, "track_id": m.match.track_id, "stream": m.stream,
             "start_s": round(m.match.start_s, 2), "end_s": round(m.match.end_s, 2),
             "reference_offset_s": round(m.match.reference_offset_s, 2),
             "confidence": round(m.match.confidence, 3)}
            for m in sorted(matches, key=lambda m: m.match.start_s)]


def with_music(decision: Decision, matches: Sequence[CatalogueMatch], *, audio: str = "ok",
               why: str | None = None, enforced: bool = False) -> Decision:
    """`decision` with the reasons of `music_reasons`."""
    return escalate(decision, music_reasons(matches, audio=audio, why=why, enforced=enforced))


def music_reasons(matches: Sequence[CatalogueMatch], *, audio: str = "ok",
                  why: str | None = None, enforced: bool = False) -> list[Reason]:
    """A track of a `review`/`block` catalogue adds that action; the reason names the
    catalogue, the track and where it starts. With such a catalogue configured (`enforced`),
    a soundtrack heard only in part or not at all (`audio`) is at least `review`, reason
    `incomplete_audio` with `why` (fail closed: the unheard part may hold the track)."""
    reasons = [Reason(MUSIC_MATCH, round(m.match.confidence, 3), None,
                      round(m.match.start_s, 2), m.action, m.match.track_id, rule=m.catalogue)
               for m in matches if m.action in ("review", "block")]
    if enforced and audio in (PARTIAL, UNDECODABLE):
        reasons.append(Reason(INCOMPLETE_AUDIO, None, None, None, REVIEW,
                              f"soundtrack {audio}: {why or 'not heard in full'}"))
    return reasons


class MusicCatalogues:
    """The configured catalogues, indexed."""

    def __init__(self, settings: MusicSettings,
                 load: Callable[[str], list[Track]] | None = None) -> None:
        self.settings = settings
        self._indexes: list[tuple[MusicCatalogue, CatalogueIndex]] = []
        self.sizes: dict[str, int] = {}  # tracks per catalogue
        for catalogue in settings.catalogues:
            try:
                tracks = load(catalogue.path) if load is not None else \
                    load_catalogue(catalogue.path, catalogue.max_bytes)
            except Exception as exc:
                raise ConfigError(f"signals.music.catalogues {catalogue.name!r}: cannot load "
                                  f"{catalogue.path}: {exc}") from exc
            if not tracks and not catalogue.allow_empty:
                raise ConfigError(f"signals.music.catalogues {catalogue.name!r}: "
                                  f"{catalogue.path} holds no track (set allow_empty=true if "
                                  "it is meant to be empty)")
            log.info("music catalogue %s: %d tracks from %s", catalogue.name, len(tracks),
                     catalogue.path)
            self._indexes.append((catalogue, CatalogueIndex(tracks)))
            self.sizes[catalogue.name] = len(tracks)

    @property
    def enforcing(self) -> bool:
        """A `review`/`block` catalogue is configured: a verdict rides on hearing the
        soundtrack in full."""
        return any(c.action in ("review", "block") for c in self.settings.catalogues)

    def match(self, fingerprints: Sequence[StreamFingerprint]) -> list[CatalogueMatch]:
        """Every catalogue against each audio stream's fingerprint on its own. Pure and
        thread-safe: the indexes are built once and only read."""
        out = []
        for heard in fingerprints:
            for catalogue, index in self._indexes:
                for match in index.match(heard.items,
                                         min_confidence=self.settings.min_confidence,
                                         min_duration_s=self.settings.min_duration_s):
                    out.append(CatalogueMatch(catalogue.name, catalogue.action, match,
                                              heard.stream))
        return out
