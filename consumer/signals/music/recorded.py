"""Music's matches in the signals record, and back under the current settings. Pure.

The record keeps what matching found under the live catalogues; restoring re-applies the
current ones: a catalogue's action as now configured, a catalogue no longer configured drops
its matches, and the confidence floor applies again (the duration floor is
counted in fingerprint items at matching, so it is not re-applied). A draft cannot find tracks
the live catalogues did not hold (that needs the soundtrack, which the record does not keep).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consumer.signals.music.catalogues import CatalogueMatch
from consumer.signals.music.matching import MusicMatch
from consumer.signals.music.settings import MusicSettings


def matches_json(matches: Sequence[CatalogueMatch]) -> list[dict[str, Any]]:
    return [{"catalogue": m.catalogue, "action": m.action, "stream": m.stream,
             "track_id": m.match.track_id, "start_s": m.match.start_s, "end_s": m.match.end_s,
             "reference_offset_s": m.match.reference_offset_s,
             "confidence": m.match.confidence} for m in matches]


def restore_matches(data: Any, section: MusicSettings) -> list[CatalogueMatch]:
    """The recorded matches that the current catalogues and floors still take."""
    if not isinstance(data, list):
        raise ValueError("music: matches are not a list")
    actions = {c.name: c.action for c in section.catalogues}
    out = []
    for item in data:
        try:
            match = MusicMatch(str(item["track_id"]), float(item["start_s"]),
                               float(item["end_s"]), float(item["reference_offset_s"]),
                               float(item["confidence"]))
            catalogue, stream = str(item["catalogue"]), int(item["stream"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"music: malformed match {item!r:.200}") from exc
        if catalogue not in actions or match.confidence < section.min_confidence:
            continue
        out.append(CatalogueMatch(catalogue, actions[catalogue], match, stream))
    return out
