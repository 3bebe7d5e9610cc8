"""The decisions consumer's metrics: decisions applied, and calibration from the state store.

Calibration gauges are recomputed from the state store (each verdict by its latest decision,
consumer.review.calibration) after decisions changed it, so a restarted consumer with its
state file reports the same figures at once. Labels stay low-cardinality: category, a 0.1
score band, decision, and which threshold (`review`, `block`), never a video.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from consumer.review.calibration import (
    at_threshold,
    categories_of,
    latest_per_verdict,
    overturn_rate,
    score_band,
)
from consumer.review.state import StateStore

DECISION_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400)


class DecisionMetrics:
    """`thresholds`: category -> {"review": x, "block": y} of the served policy."""

    def __init__(self, registry: CollectorRegistry,
                 thresholds: Mapping[str, Mapping[str, float]], precision_floor: float) -> None:
        self.thresholds = thresholds
        self.decisions = Counter("consumer_review_decisions", "Reviewers' decisions read, by "
                                 "decision and outcome (applied, superseded, duplicate, or "
                                 "why it went to the DLQ)", ["decision", "outcome"],
                                 registry=registry)
        self.decided = Gauge("consumer_review_decided_verdicts", "Decided verdicts (latest "
                             "decision each) by category, score band and decision",
                             ["category", "band", "decision"], registry=registry)
        self.precision = Gauge("consumer_review_precision_ratio", "Share of decided verdicts "
                               "at or above a category's threshold that reviewers confirmed",
                               ["category", "threshold"], registry=registry)
        self.recall = Gauge("consumer_review_recall_ratio", "Share of confirmed violations "
                            "scoring at or above a category's threshold",
                            ["category", "threshold"], registry=registry)
        self.overturn = Gauge("consumer_review_overturn_ratio", "Decisions against what the "
                              "system decided alone (block -> not_violating, allow -> "
                              "violating)", registry=registry)
        self.floor = Gauge("consumer_review_precision_floor_ratio", "review.precision_floor: "
                           "the alert's floor for precision at the block threshold",
                           registry=registry)
        self.floor.set(precision_floor)
        self.bank_misses = Counter("consumer_review_bank_misses", "Decisions that changed no "
                                   "bank because there was nothing to bank (no frame hashes "
                                   "recorded, the matched entry gone), by reason", ["reason"],
                                   registry=registry)
        self.to_decision = Histogram("consumer_review_decision_seconds", "Upload -> "
                                     "reviewer's decision", buckets=DECISION_BUCKETS,
                                     registry=registry)

    def decision(self, decision: str, outcome: str) -> None:
        self.decisions.labels(decision, outcome).inc()

    def bank_missed(self, reason: str) -> None:
        self.bank_misses.labels(reason).inc()

    def decided_after(self, seconds: float) -> None:
        if seconds >= 0:
            self.to_decision.observe(seconds)

    def refresh(self, store: StateStore) -> None:
        items = latest_per_verdict(store.decisions())
        self.decided.clear()
        for item in items:
            for category, score in item.scores.items():
                self.decided.labels(category, score_band(score), item.decision).inc()
        for category in sorted(set(categories_of(items)) | set(self.thresholds)):
            for name, value in self.thresholds.get(category, {}).items():
                point = at_threshold(items, category, value)
                if point.precision is not None:
                    self.precision.labels(category, name).set(point.precision)
                if point.recall is not None:
                    self.recall.labels(category, name).set(point.recall)
        rate = overturn_rate(items)
        if rate is not None:
            self.overturn.set(rate)
