"""A video's content kind from its default audio stream. Pure.

`speech` is the share of the heard soundtrack inside speech segments; `music` the share
covered by tracks of the music catalogues (the music signal's matches on that stream). With
`major` (0.5) and `minor` (0.1) shares, in this order:
- `silent`: no audio stream, nothing heard, or never louder than `signals.speech.silence_dbfs`;
- `music`: catalogue music covers at least `major` and speech less than `major` (singing
  that the detector takes for speech does not make a song `mixed`);
- `spoken`: speech covers at least `major` and catalogue music less than `minor`;
- `mixed`: both cover at least `major`; or speech at least `major` and music at least
  `minor`; or, neither reaching `major`, both at least `minor`;
- `other`: sound that is mostly neither speech nor a catalogue track (noise, effects,
  uncatalogued music).
Catalogue coverage is the only music evidence: music no catalogue holds is `other` (or mixed
in with speech, `spoken`/`mixed` by speech's share alone).
"""

from __future__ import annotations

SILENT, MUSIC, MIXED, SPOKEN, OTHER = "silent", "music", "mixed", "spoken", "other"
KINDS = (SPOKEN, MUSIC, MIXED, SILENT, OTHER)


def content_kind(*, heard_s: float, loud: bool, speech: float, music: float,
                 major: float = 0.5, minor: float = 0.1) -> str:
    """`speech`, `music`: shares (0-1) of the `heard_s` seconds heard."""
    if heard_s <= 0 or not loud:
        return SILENT
    if music >= major:
        return MIXED if speech >= major else MUSIC
    if speech >= major:
        return MIXED if music >= minor else SPOKEN
    if speech >= minor and music >= minor:
        return MIXED
    return OTHER
