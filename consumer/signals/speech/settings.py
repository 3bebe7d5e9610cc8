"""The speech signal's settings (`signals.speech`): whether the decode worker runs voice
activity detection over the soundtrack, how a probability becomes a segment, and the shares
behind the content kind. Defaults are Silero's own (threshold 0.5, 250 ms shortest speech,
100 ms of silence to end a segment, 30 ms padding)."""

from __future__ import annotations

from pydantic import Field, model_validator

from consumer.signals.base import SignalSettings


class SpeechSettings(SignalSettings):
    """Speech in the soundtrack (Silero VAD in the decode worker), off unless enabled."""

    enabled: bool = Field(False, description="run voice activity detection (Silero VAD, in "
                          "the decode worker) over the default audio stream; tags `speech`")
    model_path: str = Field("", description="Silero VAD sequence ONNX file; empty: the one "
                            "shipped in the silero-vad package")
    threshold: float = Field(0.5, gt=0, lt=1, description="speech probability from which a "
                             "32 ms frame is speech (a segment ends under threshold - 0.15)")
    min_speech_s: float = Field(0.25, ge=0, description="shorter speech is dropped")
    min_silence_s: float = Field(0.1, ge=0, description="silence that ends a segment")
    pad_s: float = Field(0.03, ge=0, description="added to each side of a segment")
    max_segments: int = Field(500, gt=0, description="segments kept per video (the rest are "
                              "counted in the share, not listed)")
    max_soundtrack_s: float = Field(3600.0, gt=0, description="seconds of the stream heard; "
                                    "the kind and share cover what was heard")
    silence_dbfs: float = Field(-55.0, lt=0, description="a soundtrack never louder than this "
                                "(RMS over 32 ms, dB full scale) is `silent`")
    major_share: float = Field(0.5, gt=0, le=1, description="share of the soundtrack that "
                               "makes it `spoken` (speech) or `music` (catalogue tracks)")
    minor_share: float = Field(0.1, gt=0, le=1, description="share from which speech or "
                               "music counts as present (`mixed`)")

    @model_validator(mode="after")
    def _shares_in_order(self) -> SpeechSettings:
        if self.minor_share > self.major_share:
            raise ValueError("minor_share must not exceed major_share")
        return self
