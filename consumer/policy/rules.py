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
    """The rules of the default model, `nsfw_classifier` (open_nsfw's whole-image probability).

    open_nsfw's own guidance reads < 0.2 as safe and > 0.8 as NSFW. Review at 0.5 (more likely
    NSFW than not), block at 0.8: every benign sample in the fidelity tests (scikit-image
    photos, generated frames, the demo's clips) scores below 0.22, whatever the resize filter.
    The opt-in `nsfw_detector` has categories of its own (nudity, sexual, suggestive, face):
    enabling it means giving those rules too (README "Models").
    """
    return {"nsfw": CategoryRule(review=0.5, block=0.8, min_keyframes=1)}


class PolicySettings(BaseModel):
    """Which category scores lead to `review` or `block`; `version` names this policy."""

    model_config = ConfigDict(extra="forbid")

    version: str = "2026-11-01"
    categories: dict[str, CategoryRule] = Field(default_factory=_default_rules)
    tag_min_score: float = Field(0.3, ge=0, le=1)
    incomplete_coverage: Literal["review", "scores"] = Field(
        "review", description="a video not looked at over its whole length: `review` (fail "
        "closed), or `scores` to let the scores of what was seen decide alone")
