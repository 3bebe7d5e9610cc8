"""The speech signal through the spine's generic hooks: its worker need, the content kind built
on music's earlier finding (assess passes it), its tags and its signals-record round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consumer.assembly import decode_config
from consumer.errors import ConfigError
from consumer.media import Keyframes
from consumer.media.listeners import StreamValue
from consumer.media.probe import VideoProbe
from consumer.settings import PolicySettings, Settings
from consumer.signals import Evidence, Finding, Signal, instances
from consumer.signals.assess import assess
from consumer.signals.speech import Speech
from consumer.signals.speech.vad import SpeechHeard, SpeechListener

SPEECH = {"speech": {"enabled": True}}


def _speech(signals: dict[str, Any] | None = None) -> Speech:
    (speech,) = [s for s in instances(Settings(signals=SPEECH if signals is None else signals))
                 if isinstance(s, Speech)]
    return speech


def _keyframes(audio: str = "ok", values: tuple[StreamValue, ...] = ()) -> Keyframes:
    probe = VideoProbe(duration_s=20.0, width=64, height=64, fps=1.0, codec="h264",
                       container="mp4", rotation=0, has_audio=audio != "none", bit_rate=None,
                       size_bytes=1000)
    return Keyframes(probe, [0.0], {}, audio=audio, audio_listened={"speech": values})


def _heard(segments: tuple[tuple[float, float], ...], heard_s: float = 20.0,
           peak_dbfs: float = -10.0) -> StreamValue:
    return StreamValue(1, heard_s, SpeechHeard(segments, heard_s, peak_dbfs,
                                               sum(b - a for a, b in segments)))


def _music(*spans: tuple[float, float], stream: int = 1) -> Finding:
    return Finding(tags={"music": [{"catalogue": "c", "track_id": "t", "stream": stream,
                                    "start_s": a, "end_s": b} for a, b in spans]})


def _tags(speech: Speech, keyframes: Keyframes, music: Finding | None = None) -> Any:
    evidence = Evidence(keyframes, {}, {}, {}, earlier={"music": music} if music else {})
    return speech.judge(evidence, speech.match(keyframes)).tags["speech"]


def test_off_by_default_it_asks_nothing_and_tags_nothing() -> None:
    speech = _speech({})
    assert speech.needs().listeners == () and not speech.active
    assert speech.judge(Evidence(_keyframes(), {}, {}, {}), None).tags == {}
    assert decode_config(Settings(), instances(Settings())).listeners == ()


def test_enabled_it_asks_the_worker_for_a_listener_on_the_default_stream() -> None:
    settings = Settings(signals=SPEECH)
    decode = decode_config(settings, instances(settings))
    (listener,) = decode.listeners
    assert isinstance(listener, SpeechListener) and listener.max_streams == 1
    assert decode.hears and not decode.soundtrack  # no Chromaprint fingerprint asked


def test_a_missing_model_file_is_refused_at_start() -> None:
    speech = _speech({"speech": {"enabled": True, "model_path": "/nonexistent.onnx"}})
    speech.check()  # the path is given; opening it fails
    with pytest.raises(Exception, match="nonexistent"):
        speech.open(None)  # type: ignore[arg-type]


def test_spoken_music_mixed_and_silent_from_the_worker_and_musics_finding() -> None:
    speech = _speech()
    talk = _keyframes(values=(_heard(((1.0, 15.0),)),))
    tags = _tags(speech, talk)
    assert tags["kind"] == "spoken" and tags["share"] == pytest.approx(0.7)
    assert tags["segments"] == [{"start_s": 1.0, "end_s": 15.0}]
    assert _tags(speech, talk, _music((0.0, 20.0)))["kind"] == "mixed"
    song = _keyframes(values=(_heard(()),))
    assert _tags(speech, song, _music((0.0, 18.0)))["kind"] == "music"
    assert _tags(speech, song, _music((0.0, 18.0), stream=2))["kind"] == "other"
    quiet = _keyframes(values=(_heard((), peak_dbfs=-70.0),))
    assert _tags(speech, quiet)["kind"] == "silent"
    assert _tags(speech, _keyframes("none"))["kind"] == "silent"


def test_a_soundtrack_not_listened_to_gets_no_kind() -> None:
    speech = _speech()
    assert _tags(speech, _keyframes("undecodable"))["kind"] is None
    failed = _keyframes(values=(StreamValue(1, 3.0, None, "RuntimeError: broken"),))
    assert _tags(speech, failed) == {"kind": None, "why": "RuntimeError: broken"}


class _Earlier(Signal):
    name = "earlier_probe"

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        return Finding(tags={"seen": sorted(evidence.earlier)})


def test_assess_shows_each_signal_the_findings_judged_before_it() -> None:
    signals = instances(Settings())
    probe = _Earlier(Settings(), _speech().section)
    result = assess(Evidence(_keyframes(), {}, {}, {}), [*signals, probe], PolicySettings(),
                    matched={})
    assert result.tags["seen"] == sorted(s.name for s in signals)
    first = assess(Evidence(_keyframes(), {}, {}, {}), [probe, *signals], PolicySettings())
    assert first.tags["seen"] == []


def test_the_signals_record_round_trips_and_re_decides_the_kind() -> None:
    speech = _speech()
    keyframes = _keyframes(values=(_heard(((1.0, 15.0),)),))
    data = json.loads(json.dumps(speech.record(speech.match(keyframes))))
    restored = speech.restore(data)
    assert restored == speech.match(keyframes)
    stricter = _speech({"speech": {"enabled": True, "major_share": 0.8}})
    evidence = Evidence(keyframes, {}, {}, {})
    assert stricter.judge(evidence, stricter.restore(data)).tags["speech"]["kind"] == "other"
    with pytest.raises(ValueError, match="malformed"):
        speech.restore({"streams": [{"stream": "x"}]})


def test_without_the_silero_package_enabling_it_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import consumer.signals.speech as package

    def missing() -> str:
        raise ModuleNotFoundError("silero_vad")

    monkeypatch.setattr(package, "shipped_model", missing)
    with pytest.raises(ConfigError, match="silero-vad"):
        _speech().check()
