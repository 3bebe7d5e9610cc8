"""The policy as data: read from the settings file, versioned, carried on every verdict."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    return {
        "nudity": CategoryRule(review=0.5, block=0.8, min_keyframes=1),
        "sexual": CategoryRule(review=0.5, block=0.8, min_keyframes=1),
        "suggestive": CategoryRule(review=0.7, min_keyframes=2),
    }


class PolicySettings(BaseModel):
    """Which category scores lead to `review` or `block`; `version` names this policy."""

    model_config = ConfigDict(extra="forbid")

    version: str = "2026-11-01"
    categories: dict[str, CategoryRule] = Field(default_factory=_default_rules)
    tag_min_score: float = Field(0.3, ge=0, le=1)
    incomplete_coverage: Literal["review", "scores"] = Field(
        "review", description="a video not looked at over its whole length: `review` (fail "
        "closed), or `scores` to let the scores of what was seen decide alone")
