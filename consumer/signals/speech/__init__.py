"""Speech in the soundtrack: Silero VAD over the default audio stream, in the decode worker
(consumer.signals.speech.vad, a `Needs.listeners` listener), giving speech segments, the
share of the soundtrack they cover, and the video's content kind (consumer.signals.speech.
kind), which reads the music signal's catalogue matches from its earlier finding. Tags only:
it adds no reason to a verdict."""

from __future__ import annotations

from typing import Any, ClassVar

from consumer.errors import ConfigError
from consumer.media import Keyframes
from consumer.signals.base import Evidence, Finding, Needs, Opening, Signal, SignalSettings
from consumer.signals.speech.recorded import heard_json, restore_heard
from consumer.signals.speech.settings import SpeechSettings
from consumer.signals.speech.tags import speech_tags
from consumer.signals.speech.vad import NAME, SpeechListener, session, shipped_model


class Speech(Signal):
    name: ClassVar[str] = NAME
    settings_model: ClassVar[type[SignalSettings]] = SpeechSettings
    section: SpeechSettings

    def check(self) -> None:
        if self.section.enabled:
            self.model_path()

    def model_path(self) -> str:
        if self.section.model_path:
            return self.section.model_path
        try:
            return shipped_model()
        except ModuleNotFoundError:
            raise ConfigError("signals.speech.enabled needs the silero-vad package (pip "
                              "install '.[speech]') or signals.speech.model_path") from None

    def needs(self) -> Needs:
        section = self.section
        if not section.enabled:
            return Needs()
        listener = SpeechListener(self.model_path(), section.threshold, section.min_speech_s,
                                  section.min_silence_s, section.pad_s, section.max_segments)
        return Needs(listeners=(listener,), max_soundtrack_s=section.max_soundtrack_s,
                     max_audio_streams=1)

    @property
    def active(self) -> bool:
        return self.section.enabled

    def open(self, opening: Opening) -> None:
        """The model loaded once in this process, so a broken file stops the start, not
        every video in the workers."""
        if self.section.enabled:
            session(self.model_path())

    def match(self, keyframes: Keyframes) -> Any:
        """The worker's finding for the default stream (or why there is none)."""
        values = keyframes.audio_listened.get(NAME, ())
        return {"audio": keyframes.audio, "streams": values}

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        if not self.section.enabled or matched is None:
            return Finding()
        music = evidence.earlier.get("music")
        return Finding(tags={NAME: speech_tags(
            matched, self.section, music.tags.get("music", []) if music else [])})

    def record(self, matched: Any) -> Any:
        return heard_json(matched) if matched is not None else None

    def restore(self, data: Any) -> Any:
        return restore_heard(data) if data is not None else None
