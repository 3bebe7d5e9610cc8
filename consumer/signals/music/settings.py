"""The music signal's settings (`signals.music`): the catalogues, how sure a match must be, and
what the decode worker hears of the soundtrack (on by itself when a catalogue is set)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from consumer.signals.base import SignalSettings

MiB = 1 << 20


class MusicCatalogue(BaseModel):
    """Reference recordings (raw Chromaprint fingerprints, `vmc catalogue build`) and what
    their playing in an upload means: `tag` only, or a `review`/`block` for tracks that may
    not be used."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # a metric label and verdict reason
    path: str = Field(min_length=1, description="a catalogue file path or an fsspec URI")
    action: Literal["tag", "block", "review"] = "tag"
    max_bytes: int = Field(512 * MiB, ge=1, description="a larger file (or archive members "
                           "declaring more in all) is refused (~88k tracks of 3 minutes)")
    allow_empty: bool = Field(False, description="a catalogue without tracks is an error "
                              "unless this says it is meant to be empty")


class MusicSettings(SignalSettings):
    """Music in the soundtrack: fingerprinted in the decode worker when a catalogue is set."""

    catalogues: list[MusicCatalogue] = Field(default_factory=list)
    # consumer.signals.music.matching defaults, measured (BENCHMARKS.md): unrelated music agreed at
    # up to 0.70 over 6-8 s, never over 8 s; true excerpts under speech or noise 0.72-0.94.
    min_confidence: float = Field(0.70, gt=0.5, le=1, description="share of fingerprint "
                                  "bits agreeing over a matched segment")
    min_duration_s: float = Field(10.0, gt=0, description="shortest segment reported")
    soundtrack: bool = Field(False, description="decode the soundtrack and fingerprint it "
                             "(Chromaprint); on by itself when a catalogue is set")
    max_soundtrack_s: float = Field(
        3600.0, gt=0, description="seconds of each audio stream heard; a longer soundtrack is "
        "`partial` (with a review/block catalogue: verdict `review`, incomplete_audio)")
    max_audio_streams: int = Field(
        4, gt=0, description="audio streams heard (each fingerprinted on its own, default-"
        "flagged first); more make the soundtrack `partial`")

    @model_validator(mode="after")
    def _soundtrack_for_catalogues(self) -> MusicSettings:
        """Unique names; a catalogue needs the soundtrack's fingerprint from the worker."""
        names = [c.name for c in self.catalogues]
        if len(names) != len(set(names)):
            raise ValueError(f"catalogue names must be unique: {names}")
        if self.catalogues and not self.soundtrack:
            self.soundtrack = True
        return self
