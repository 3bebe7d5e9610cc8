"""From per-keyframe class scores to one verdict with reasons. Pure: no I/O.

Each category's score on a keyframe is the max over the model labels mapped to it. A category
triggers an action when at least k keyframes (k capped at the number analysed) reach its
threshold; the verdict is the strongest action. Scores that are NaN, infinite or of the wrong
shape fail closed to `review`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from consumer.settings import PolicySettings

if TYPE_CHECKING:
    from consumer.media.coverage import Coverage

ALLOW, REVIEW, BLOCK, UNPROCESSABLE = "allow", "review", "block", "unprocessable"
INVALID_OUTPUT = "invalid_model_output"
INCOMPLETE_COVERAGE = "incomplete_coverage"
KNOWN_CONTENT = "known_content_match"
TEXT_RULE = "text_rule"
MUSIC_MATCH = "music_match"
MODEL_BUDGET_EXCEEDED = "model_budget_exceeded"
INCOMPLETE_AUDIO = "incomplete_audio"  # a soundtrack not heard in full, music enforced
_STRENGTH = {ALLOW: 0, REVIEW: 1, BLOCK: 2}


@dataclass(frozen=True)
class Reason:
    """Why a verdict is not `allow`: category, its score, the threshold hit, keyframe time
    (for a known-content match: the list, the bit distance, and the list's label)."""

    category: str
    score: float | None
    threshold: float | None
    at_s: float | None
    action: str
    detail: str | None = None
    hash_list: str | None = None
    distance: int | None = None
    rule: str | None = None
    # A known-content match: the bank entry's id and the time in it, the shares of the upload
    # and of the entry that match, and why a block became review ("flood_quarantine").
    entry: str | None = None
    entry_at_s: float | None = None
    query_share: float | None = None
    compared_share: float | None = None
    demoted: str | None = None


@dataclass(frozen=True)
class Decision:
    verdict: str
    reasons: list[Reason] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


class Thresholds(Protocol):
    """One category's rule (`signals.scores.categories`, consumer/signals/scores.py)."""

    @property
    def review(self) -> float | None: ...

    @property
    def block(self) -> float | None: ...

    @property
    def min_keyframes(self) -> int: ...


def category_scores(
    scores: npt.NDArray[np.float32], labels: Sequence[str], categories: Mapping[str, str]
) -> dict[str, npt.NDArray[np.float32]]:
    """[N, C] label scores -> {category: [N] max over the category's labels}."""
    if scores.ndim != 2 or scores.shape[1] != len(labels):
        raise ValueError(f"scores shape {scores.shape} does not match {len(labels)} labels")
    out: dict[str, npt.NDArray[np.float32]] = {}
    for index, label in enumerate(labels):
        category = categories.get(label)
        if category is None:
            continue
        column = scores[:, index]
        out[category] = column if category not in out else np.maximum(out[category], column)
    return out


def _invalid(detail: str) -> Decision:
    return Decision(REVIEW, [Reason(INVALID_OUTPUT, None, None, None, REVIEW, detail)])


def decide(
    per_category: Mapping[str, npt.NDArray[np.float32]],
    pts_s: Sequence[float],
    categories: Mapping[str, Thresholds],
) -> Decision:
    """Apply the category rules to one video's category scores (one value per analysed
    keyframe)."""
    n = len(pts_s)
    if n == 0:
        return _invalid("no keyframe scores")
    for category, values in per_category.items():
        if values.shape != (n,):
            return _invalid(f"{category}: {values.shape[0] if values.ndim else 0} scores "
                            f"for {n} keyframes")
        if not np.all(np.isfinite(values)):
            return _invalid(f"{category}: non-finite score")
    for category, rule in categories.items():
        if category not in per_category and (rule.review is not None or rule.block is not None):
            return _invalid(f"policy category {category!r} missing from model outputs")
    reasons: list[Reason] = []
    summary: dict[str, float] = {}
    for category, values in sorted(per_category.items()):
        top = int(np.argmax(values))
        summary[category] = round(float(values[top]), 6)
        applied = categories.get(category)
        if applied is None:
            continue
        k = min(applied.min_keyframes, n)
        for action, threshold in ((BLOCK, applied.block), (REVIEW, applied.review)):
            if threshold is None:
                continue
            if int(np.count_nonzero(values >= threshold)) >= k:
                reasons.append(Reason(category, summary[category], threshold,
                                      float(pts_s[top]), action))
                break
    verdict = BLOCK if any(r.action == BLOCK for r in reasons) else (
        REVIEW if reasons else ALLOW)
    reasons.sort(key=lambda r: (r.action != BLOCK, -(r.score or 0.0), r.category))
    return Decision(verdict, reasons, summary)


def unprocessable(reason: str, detail: str) -> Decision:
    """The verdict for media that could not be analysed (the DLQ holds a copy)."""
    return Decision(UNPROCESSABLE, [Reason(reason, None, None, None, UNPROCESSABLE, detail)])


def failed(reason: str, error: BaseException) -> Decision:
    """`unprocessable` for this error, its class and message as the detail (run and scan
    alike)."""
    return unprocessable(reason, f"{type(error).__name__}: {error}")


def require_coverage(decision: Decision, coverage: Coverage, policy: PolicySettings) -> Decision:
    """Fail closed when part of the video went unseen: at least `review`, with the reason,
    unless the policy lets the scores of what was seen decide alone."""
    if coverage.complete or policy.incomplete_coverage == "scores":
        return decision
    why = f"largest unseen gap {coverage.largest_gap_s:.1f} s > {coverage.max_gap_s:.1f} s"
    if coverage.stopped_by:
        why += f" (stopped by {coverage.stopped_by})"
    reason = Reason(INCOMPLETE_COVERAGE, None, None, None, REVIEW, why)
    verdict = decision.verdict if decision.verdict in (BLOCK, UNPROCESSABLE) else REVIEW
    return Decision(verdict, [*decision.reasons, reason], decision.scores)


def escalate(decision: Decision, reasons: Sequence[Reason]) -> Decision:
    """Add reasons of other signals; the verdict becomes the strongest action among them
    (an `unprocessable` verdict stays: nothing was looked at)."""
    if not reasons or decision.verdict not in _STRENGTH:
        return decision
    verdict = max([decision.verdict, *(r.action for r in reasons)], key=_STRENGTH.__getitem__)
    merged = sorted([*reasons, *decision.reasons], key=lambda r: r.action != BLOCK)
    return Decision(verdict, merged, decision.scores)
