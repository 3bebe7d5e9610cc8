"""Model scores: per-keyframe class scores of the served classifiers, merged into policy
categories (max over models and labels), judged against the category thresholds (k of n
keyframes), and the labels seen, as tags. Its section, `signals.scores`, holds the
thresholds."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from consumer.policy.decide import category_scores, decide
from consumer.policy.tagging import label_tags
from consumer.signals.base import Evidence, Finding, Signal, SignalSettings


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


class ScoresSettings(SignalSettings):
    """Which category scores lead to `review` or `block`, and which labels become tags."""

    categories: dict[str, CategoryRule] = Field(default_factory=_default_rules)
    tag_min_score: float = Field(0.3, ge=0, le=1, description="least score for a label to "
                                 "become a tag")


class ModelScores(Signal):
    name: ClassVar[str] = "scores"
    settings_model: ClassVar[type[SignalSettings]] = ScoresSettings
    section: ScoresSettings

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        section = self.section
        pts = evidence.keyframes.pts_s
        merged: dict[str, npt.NDArray[np.float32]] = {}
        labels = []
        for name, model_scores in evidence.scores.items():
            spec = evidence.specs[name]
            finite = np.nan_to_num(model_scores, nan=0.0, posinf=0.0, neginf=0.0)
            labels += label_tags(name, finite, spec.labels, pts, section.tag_min_score)
            for category, values in category_scores(model_scores, spec.labels,
                                                    spec.categories).items():
                merged[category] = values if category not in merged \
                    else np.maximum(merged[category], values)
        decision = decide(merged, pts, section.categories) if evidence.outputs_ok else None
        return Finding(reasons=decision.reasons if decision else [],
                       scores=decision.scores if decision else {},
                       tags={"labels": [asdict(tag) for tag in labels]})
