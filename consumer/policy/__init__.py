"""Per-video aggregation of keyframe scores and the declarative moderation policy."""

from consumer.policy.decide import Decision, Reason, category_scores, decide
from consumer.policy.rules import CategoryRule, PolicySettings

__all__ = ["CategoryRule", "Decision", "PolicySettings", "Reason", "category_scores", "decide"]
