"""The on-screen text signal's settings (`signals.text`): the rules read text is matched
against (regular expressions or word lists)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from consumer.signals.base import SignalSettings

MiB = 1 << 20


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


class TextSettings(SignalSettings):
    """Rules on what a served text reader (`ocr`) read; each needs that reader in
    `pipeline.models` (checked when the signals are assembled)."""

    rules: list[TextRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> TextSettings:
        names = [rule.name for rule in self.rules]
        if len(names) != len(set(names)):
            raise ValueError(f"text rule names must be unique: {names}")
        return self
