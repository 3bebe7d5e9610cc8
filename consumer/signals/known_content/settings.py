"""The known-content signal's settings (`signals.known_content`): the PDQ switch of the decode
worker, the hash lists and how they are kept fresh."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from consumer.signals.base import SignalSettings

MiB = 1 << 20
# Beyond 47 bits the multi-index's radius (max_distance // 16) exceeds 2 and matching would be
# a linear scan of the whole list on the poll loop (seconds per video for 1M hashes).
MAX_INDEXED_DISTANCE = 47


class HashListRule(BaseModel):
    """A list of PDQ hashes of known content, and what a match means."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # a metric label and verdict reason
    path: str = Field(min_length=1, description="a file path or an fsspec URI")
    action: Literal["block", "review", "shadow", "allow"] = Field("review", description=(
        "shadow: matched, counted and tagged, no effect on the verdict; allow: known false "
        "positives, its matches suppress other banks' matches of the same upload frames"))
    max_distance: int = Field(31, ge=0, description="PDQ's usual match threshold")
    min_quality: int = Field(50, ge=0, le=100, description="frames below it are not matched")
    max_bytes: int = Field(256 * MiB, ge=1, description="a larger file is refused (~3M "
                           "hashes with short labels)")
    allow_empty: bool = Field(False, description="an empty list is an error unless this says "
                              "it is meant to be empty")
    max_files: int = Field(100_000, ge=1, description="a folder or prefix holding more files "
                           "is refused (a vPDQ bank has one file per video)")
    max_malformed_ratio: float = Field(0.01, ge=0, le=1, description="lines that are not "
                                       "hashes are skipped and counted; a bank with a larger "
                                       "share of them is refused (garbage is not a bank)")
    enabled: bool = Field(True, description="false: not loaded, not matched (the metric "
                          "consumer_known_content_bank_enabled shows it)")
    match: Literal["auto", "frame", "video"] = Field(
        "auto", description="frame: any one frame within max_distance; video: the shares "
        "below; auto: frame for one-hash entries (plain lists), video for video entries")
    # Defaults from the variant set (BENCHMARKS.md, "Known content: variants"): the lowest
    # share of a related upload was 0.33 (a small logo over every frame), the highest of an
    # unrelated clip 0; a trim covers only its own part of the entry, hence the low second.
    min_query_share: float = Field(0.3, ge=0, le=1, description="video matching: share of the "
                                   "upload's analysed frames that match the entry")
    min_compared_share: float = Field(0.1, ge=0, le=1, description="video matching: share of "
                                      "the entry's duration the matched frames cover (a trim "
                                      "of a tenth of the entry still matches)")

    @field_validator("max_distance")
    @classmethod
    def _indexed_distance(cls, value: int) -> int:
        if value > MAX_INDEXED_DISTANCE:
            raise ValueError(f"max_distance {value} is above {MAX_INDEXED_DISTANCE}: matching "
                             "stays indexed (16 segments, radius <= 2) only up to "
                             f"{MAX_INDEXED_DISTANCE} bits; PDQ's usual threshold is 31")
        return value


class KnownContentSettings(SignalSettings):
    """PDQ hashes of every analysed frame (tags `frames`) and the lists they are matched
    against; a list that cannot be matched (hashes off) is refused at start."""

    frame_hashes: bool = Field(True, description="PDQ hash of every analysed frame, computed "
                               "in the decode worker (tags, and matching against `lists`)")
    lists: list[HashListRule] = Field(default_factory=list)
    reload_s: float = Field(30.0, gt=0, description="how often list files are checked for "
                            "changes")
    min_keep_ratio: float = Field(0.5, ge=0, le=1, description="a reload that keeps fewer than "
                                  "this share of the served list's hashes is refused (0: no "
                                  "check)")
    flood_max_videos: int = Field(50, ge=0, description="an entry matching more distinct videos "
                                  "than this within flood_window_s is quarantined: its block "
                                  "becomes review (0: off)")
    flood_window_s: float = Field(3600.0, gt=0, description="the flood quarantine's window")
    flood_max_entries: int = Field(10_000, ge=1, description="entries whose recent matches are "
                                   "remembered for the flood quarantine (the oldest is "
                                   "forgotten first): bounds its memory")

    @model_validator(mode="after")
    def _matchable(self) -> KnownContentSettings:
        names = [rule.name for rule in self.lists]
        if len(names) != len(set(names)):
            raise ValueError(f"hash list names must be unique: {names}")
        if self.lists and not self.frame_hashes:
            raise ValueError("lists need frame_hashes=true (the frames' PDQ hashes)")
        return self
