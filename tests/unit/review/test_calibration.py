"""Calibration math: latest decision per verdict, bands, precision/recall, suggestions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consumer.review.calibration import (
    Decided,
    at_threshold,
    latest_per_verdict,
    overturn_rate,
    score_band,
    suggest,
)

T0 = datetime(2026, 1, 2, tzinfo=UTC)


def _items(pairs: list[tuple[float, bool]], verdict: str = "review") -> list[Decided]:
    return [Decided(verdict, "violating" if pos else "not_violating", ("nsfw",),
                    {"nsfw": score}) for score, pos in pairs]


def test_precision_and_recall_at_a_threshold() -> None:
    items = _items([(0.9, True), (0.85, False), (0.7, True), (0.6, False), (0.3, True)])
    point = at_threshold(items, "nsfw", 0.8)
    assert point.precision == pytest.approx(0.5) and point.support == 2
    assert point.recall == pytest.approx(1 / 3)
    assert at_threshold(items, "nsfw", 0.95).precision is None


def test_suggest_takes_the_lowest_threshold_that_reaches_the_target() -> None:
    items = _items([(0.95, True), (0.9, True), (0.88, True), (0.8, True), (0.75, False),
                    (0.7, True), (0.5, False)])
    tip = suggest(items, "nsfw", 0.8, min_support=3)
    assert tip.threshold == 0.7 and tip.precision == pytest.approx(5 / 6) and tip.support == 6
    assert suggest(items, "nsfw", 1.0, min_support=3).threshold == 0.8
    assert suggest(items, "nsfw", 1.0, min_support=9).threshold is None


def test_categories_named_by_the_reviewer_decide_positives() -> None:
    other = Decided("block", "violating", ("violence",), {"nsfw": 0.9})
    assert not other.positive("nsfw") and other.positive("violence")
    assert Decided("block", "violating", (), {}).positive("nsfw")


def test_bands_and_overturns() -> None:
    assert score_band(0.83) == "0.8-0.9" and score_band(1.0) == "0.9-1.0"
    assert score_band(0.0) == "0.0-0.1"
    items = _items([(0.9, False), (0.9, True)], "block") + _items([(0.1, True)], "allow") + \
        _items([(0.6, True)], "review")
    assert overturn_rate(items) == pytest.approx(2 / 3)
    assert overturn_rate(_items([(0.6, True)])) is None


def test_latest_decision_per_verdict_and_unknown_verdicts_skipped() -> None:
    row = {"verdict_id": "a", "decision_id": "1", "decision": "violating", "categories": [],
           "verdict": "block", "scores": {"nsfw": 0.9}, "time": T0,
           "uploaded_at": "2026-01-01T00:00:00Z"}
    rows = [row, {**row, "decision_id": "2", "decision": "not_violating",
                  "time": T0 + timedelta(1)}, {**row, "verdict_id": "b", "verdict": None}]
    items = latest_per_verdict(rows)
    assert len(items) == 1 and items[0].decision == "not_violating"
    assert items[0].uploaded_at == datetime(2026, 1, 1, tzinfo=UTC)
