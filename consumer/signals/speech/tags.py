"""The `speech` tags of one video from what the worker heard and music's matches. Pure.

{"kind": "spoken", "share": 0.62, "heard_s": 31.2, "stream": 1, "music_share": 0.0,
 "segments": [{"start_s": 0.41, "end_s": 2.93}, ...], "segments_cut": false}
`kind` is None (with `why`) when the stream could not be listened to: no kind is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consumer.media.listeners import StreamValue
from consumer.signals.speech.kind import SILENT, content_kind
from consumer.signals.speech.segments import covered_s
from consumer.signals.speech.settings import SpeechSettings
from consumer.signals.speech.vad import SpeechHeard


def speech_tags(matched: Mapping[str, Any], section: SpeechSettings,
                music: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`matched`: {"audio": the soundtrack's status, "streams": the worker's StreamValues}."""
    audio = str(matched.get("audio") or "off")
    streams: Sequence[StreamValue] = matched.get("streams") or ()
    if audio == "none":
        return {"kind": SILENT, "share": 0.0, "heard_s": 0.0, "stream": None,
                "music_share": 0.0, "segments": [], "segments_cut": False}
    value = streams[0] if streams else None
    if value is None or not isinstance(value.value, SpeechHeard):
        why = value.error if value is not None and value.error else f"soundtrack {audio}"
        return {"kind": None, "why": why}
    heard: SpeechHeard = value.value
    on_stream = [(float(m["start_s"]), min(float(m["end_s"]), heard.heard_s)) for m in music
                 if m.get("stream") == value.stream and float(m["start_s"]) < heard.heard_s]
    total = heard.heard_s
    speech = heard.speech_s / total if total > 0 else 0.0
    music_share = covered_s(on_stream) / total if total > 0 else 0.0
    kind = content_kind(heard_s=total, loud=heard.peak_dbfs > section.silence_dbfs,
                        speech=speech, music=music_share, major=section.major_share,
                        minor=section.minor_share)
    return {"kind": kind, "share": round(speech, 3), "heard_s": total,
            "stream": value.stream, "music_share": round(music_share, 3),
            "segments": [{"start_s": a, "end_s": b} for a, b in heard.segments],
            "segments_cut": heard.segments_cut}
