"""Reviewers' decisions -> how good the thresholds are, and which would be. Pure.

Each verdict counts once, by its latest decision (by time). For a category, a decided verdict
is a positive when the reviewer found it `violating` in that category (or named no
categories), and its score is the verdict's peak score for the category. Precision at a
threshold: the share of positives among the decided verdicts scoring at or above it; recall:
the share of all positives scoring at or above it. An overturn is a decision against what the
system decided alone: `not_violating` on a `block`, `violating` on an `allow`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Decided:
    """One verdict with its latest decision, as calibration needs it."""

    verdict: str
    decision: str  # violating | not_violating
    categories: tuple[str, ...]
    scores: Mapping[str, float]
    decided_at: datetime | None = None
    uploaded_at: datetime | None = None

    def positive(self, category: str) -> bool:
        return self.decision == "violating" and (not self.categories
                                                 or category in self.categories)


def latest_per_verdict(rows: Iterable[Mapping[str, Any]]) -> list[Decided]:
    """State-store rows (consumer.review.state `decisions()`) -> one `Decided` per verdict
    whose verdict is known, its latest decision (time, then id) deciding."""
    best: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if row.get("verdict") is None:
            continue
        held = best.get(row["verdict_id"])
        if held is None or (row["time"], row["decision_id"]) > (held["time"],
                                                                 held["decision_id"]):
            best[row["verdict_id"]] = row
    return [Decided(r["verdict"], r["decision"], tuple(r["categories"]),
                    {k: float(v) for k, v in r["scores"].items()
                     if isinstance(v, int | float)}, r["time"], _time(r.get("uploaded_at")))
            for r in best.values()]


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def score_band(score: float) -> str:
    """The 0.1-wide band of a score, as a label: 0.83 -> "0.8-0.9" (1.0 -> "0.9-1.0")."""
    low = min(math.floor(score * 10), 9) / 10
    return f"{low:.1f}-{low + 0.1:.1f}"


def overturned(item: Decided) -> bool:
    return (item.verdict == "block" and item.decision == "not_violating") or (
        item.verdict == "allow" and item.decision == "violating")


def overturn_rate(items: Sequence[Decided]) -> float | None:
    """Overturns among decisions on verdicts the system made alone (allow, block)."""
    alone = [i for i in items if i.verdict in ("allow", "block")]
    return sum(map(overturned, alone)) / len(alone) if alone else None


@dataclass(frozen=True)
class AtThreshold:
    threshold: float
    precision: float | None  # None: nothing decided scores this high
    recall: float | None  # None: no positive decided
    support: int  # decided verdicts scoring at or above


def at_threshold(items: Sequence[Decided], category: str, threshold: float) -> AtThreshold:
    scored = [(i.scores[category], i.positive(category)) for i in items if category in i.scores]
    above = [pos for score, pos in scored if score >= threshold]
    positives = sum(pos for _, pos in scored)
    return AtThreshold(threshold, sum(above) / len(above) if above else None,
                       sum(above) / positives if positives else None, len(above))


@dataclass(frozen=True)
class Suggestion:
    category: str
    threshold: float | None  # None: no threshold reaches the target with enough support
    precision: float | None
    recall: float | None
    support: int
    decided: int


def suggest(items: Sequence[Decided], category: str, target_precision: float, *,
            min_support: int = 5) -> Suggestion:
    """The lowest threshold (among the decided scores) whose precision reaches the target
    with at least `min_support` decided verdicts above it: the most recall at that
    precision."""
    scores = sorted({i.scores[category] for i in items if category in i.scores})
    decided = sum(category in i.scores for i in items)
    for candidate in scores:
        point = at_threshold(items, category, candidate)
        if (point.support >= min_support and point.precision is not None
                and point.precision >= target_precision):
            return Suggestion(category, round(candidate, 4), point.precision, point.recall,
                              point.support, decided)
    return Suggestion(category, None, None, None, 0, decided)


def categories_of(items: Iterable[Decided]) -> list[str]:
    return sorted({c for i in items for c in i.scores})
