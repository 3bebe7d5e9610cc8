"""Per-video aggregation of keyframe scores under the declarative policy (`PolicySettings`)."""

from consumer.policy.decide import Decision, Reason, category_scores, decide

__all__ = ["Decision", "Reason", "category_scores", "decide"]
