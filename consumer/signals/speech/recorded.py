"""What the worker heard, in the signals record and back, so `vmc backtest` re-decides the
content kind (under the current shares and music's restored matches) with no decode. The
segments themselves are kept as found: re-thresholding needs the audio. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.media.listeners import StreamValue
from consumer.signals.speech.vad import SpeechHeard


def heard_json(matched: Mapping[str, Any]) -> dict[str, Any]:
    streams = []
    for value in matched.get("streams") or ():
        item: dict[str, Any] = {"stream": value.stream, "heard_s": value.heard_s,
                                "error": value.error}
        if isinstance(value.value, SpeechHeard):
            heard = value.value
            item.update(segments=[list(s) for s in heard.segments], peak_dbfs=heard.peak_dbfs,
                        speech_s=heard.speech_s, segments_cut=heard.segments_cut,
                        vad_heard_s=heard.heard_s)
        streams.append(item)
    return {"audio": matched.get("audio"), "streams": streams}


def restore_heard(data: Any) -> dict[str, Any]:
    try:
        streams = []
        for item in data["streams"]:
            heard = SpeechHeard(tuple((float(a), float(b)) for a, b in item["segments"]),
                                float(item["vad_heard_s"]), float(item["peak_dbfs"]),
                                float(item["speech_s"]), bool(item["segments_cut"])) \
                if "segments" in item else None
            streams.append(StreamValue(int(item["stream"]), float(item["heard_s"]), heard,
                                       item.get("error")))
        return {"audio": data.get("audio"), "streams": tuple(streams)}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"speech: malformed record {data!r:.200}") from exc
