"""Model scores: per-keyframe class scores of the served classifiers, merged into policy
categories (max over models and labels), judged against the category thresholds (k of n
keyframes), and the labels seen, as tags."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from consumer.policy.decide import category_scores, decide
from consumer.policy.tagging import label_tags
from consumer.signals.base import Evidence, Finding, Signal


class ModelScores(Signal):
    name: ClassVar[str] = "scores"
    tag_fields: ClassVar[tuple[str, ...]] = ("labels",)

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        policy = self.settings.policy
        pts = evidence.keyframes.pts_s
        merged: dict[str, npt.NDArray[np.float32]] = {}
        labels = []
        for name, model_scores in evidence.scores.items():
            spec = evidence.specs[name]
            finite = np.nan_to_num(model_scores, nan=0.0, posinf=0.0, neginf=0.0)
            labels += label_tags(name, finite, spec.labels, pts, policy.tag_min_score)
            for category, values in category_scores(model_scores, spec.labels,
                                                    spec.categories).items():
                merged[category] = values if category not in merged \
                    else np.maximum(merged[category], values)
        decision = decide(merged, pts, policy) if evidence.outputs_ok else None
        return Finding(reasons=decision.reasons if decision else [],
                       scores=decision.scores if decision else {},
                       tags={"labels": [asdict(tag) for tag in labels]})
