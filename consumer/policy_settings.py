"""The policy's settings: score thresholds, hash lists, text rules, music catalogues.

Split from `consumer.settings` (which re-exports every name) to keep each module short; it
imports nothing of the project, so `settings` -> `policy` never loops.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MiB = 1 << 20
# Beyond 47 bits the multi-index's radius (max_distance // 16) exceeds 2 and matching would be
# a linear scan of the whole list on the poll loop (seconds per video for 1M hashes).
MAX_INDEXED_DISTANCE = 47


class CategoryRule(BaseModel):
    """Thresholds for one policy category; `min_keyframes` is the k of k-of-n."""

    model_config = ConfigDict(extra="forbid")

    review: float | None = Field(None, ge=0, le=1)
    block: float | None = Field(None, ge=0, le=1)
    min_keyframes: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _block_above_review(self) -> CategoryRule:
        if self.review is not None and self.block is not None and self.block < self.review:
            raise ValueError(f"block threshold {self.block} is below review {self.review}")
        return self


def _default_rules() -> dict[str, CategoryRule]:
    """The rules of the default model, `nsfw_classifier` (open_nsfw's whole-image probability).

    open_nsfw's own guidance reads < 0.2 as safe and > 0.8 as NSFW. Review at 0.5 (more likely
    NSFW than not), block at 0.8: every benign sample in the fidelity tests (scikit-image
    photos, generated frames, the demo's clips) scores below 0.22, whatever the resize filter.
    The opt-in `nsfw_detector` has categories of its own (nudity, sexual, suggestive, face):
    enabling it means giving those rules too (README "Models").
    """
    return {"nsfw": CategoryRule(review=0.5, block=0.8, min_keyframes=1)}


class HashListRule(BaseModel):
    """A list of PDQ hashes of known content, and what a match means."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # a metric label and verdict reason
    path: str = Field(min_length=1, description="a file path or an fsspec URI")
    action: Literal["block", "review"] = "review"
    max_distance: int = Field(31, ge=0, description="PDQ's usual match threshold")
    min_quality: int = Field(50, ge=0, le=100, description="frames below it are not matched")
    max_bytes: int = Field(256 * MiB, ge=1, description="a larger file is refused (~3M "
                           "hashes with short labels)")
    allow_empty: bool = Field(False, description="an empty list is an error unless this says "
                              "it is meant to be empty")

    @field_validator("max_distance")
    @classmethod
    def _indexed_distance(cls, value: int) -> int:
        if value > MAX_INDEXED_DISTANCE:
            raise ValueError(f"max_distance {value} is above {MAX_INDEXED_DISTANCE}: matching "
                             "stays indexed (16 segments, radius <= 2) only up to "
                             f"{MAX_INDEXED_DISTANCE} bits; PDQ's usual threshold is 31")
        return value


class TextRule(BaseModel):
    """On-screen text that calls for an action: a regular expression, or a word list."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # a metric label and verdict reason
    pattern: str | None = Field(None, description="a regular expression, case-insensitive")
    words: str | None = Field(None, description="a word-list file (path or fsspec URI), one "
                              "word or phrase per line, matched as whole words")
    action: Literal["block", "review"] = "review"
    min_score: float = Field(0.5, ge=0, le=1, description="lines read with less confidence "
                             "are not matched")
    max_bytes: int = Field(4 * MiB, ge=1, description="a larger word list is refused")
    allow_empty: bool = Field(False, description="an empty word list is an error unless this "
                              "says it is meant to be empty")

    @model_validator(mode="after")
    def _one_source(self) -> TextRule:
        if (self.pattern is None) == (self.words is None):
            raise ValueError(f"text rule {self.name!r}: give exactly one of pattern, words")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"text rule {self.name!r}: bad pattern: {exc}") from exc
        return self


class PolicySettings(BaseModel):
    """Which category scores lead to `review` or `block`; `version` names this policy."""

    model_config = ConfigDict(extra="forbid")

    version: str = "2026-11-01"
    categories: dict[str, CategoryRule] = Field(default_factory=_default_rules)
    tag_min_score: float = Field(0.3, ge=0, le=1)
    incomplete_coverage: Literal["review", "scores"] = Field(
        "review", description="a video not looked at over its whole length: `review` (fail "
        "closed), or `scores` to let the scores of what was seen decide alone")
    hash_lists: list[HashListRule] = Field(default_factory=list)
    hash_lists_reload_s: float = Field(30.0, gt=0, description="how often list files are "
                                       "checked for changes")
    text_rules: list[TextRule] = Field(default_factory=list)
    hash_lists_min_keep_ratio: float = Field(0.5, ge=0, le=1, description="a reload that "
                                             "keeps fewer than this share of the served "
                                             "list's hashes is refused (0: no check)")

    @model_validator(mode="after")
    def _unique_names(self) -> PolicySettings:
        for kind, names in (("hash list", [r.name for r in self.hash_lists]),
                            ("text rule", [r.name for r in self.text_rules])):
            if len(names) != len(set(names)):
                raise ValueError(f"{kind} names must be unique: {names}")
        return self


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


class AudioSettings(BaseModel):
    """Music in the soundtrack: fingerprinted in the decode worker when a catalogue is set."""

    model_config = ConfigDict(extra="forbid")

    catalogues: list[MusicCatalogue] = Field(default_factory=list)
    # consumer.signals.music.matching defaults, measured (BENCHMARKS.md): unrelated music agreed at
    # up to 0.70 over 6-8 s, never over 8 s; true excerpts under speech or noise 0.72-0.94.
    min_confidence: float = Field(0.70, gt=0.5, le=1, description="share of fingerprint "
                                  "bits agreeing over a matched segment")
    min_duration_s: float = Field(10.0, gt=0, description="shortest segment reported")

    @model_validator(mode="after")
    def _unique_names(self) -> AudioSettings:
        names = [c.name for c in self.catalogues]
        if len(names) != len(set(names)):
            raise ValueError(f"catalogue names must be unique: {names}")
        return self
