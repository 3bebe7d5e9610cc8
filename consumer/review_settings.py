"""The review loop's settings (`review`): the audit sample, the banks decisions write, the
decisions consumer's state and the precision floor its alert watches.

Imports nothing of the project and lives beside consumer/policy_settings.py (not in
consumer/review, which imports publishing -> settings), so settings never loop.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReviewSettings(BaseModel):
    """Review tasks (the consumer) and the decisions consumer (`vmc decisions`)."""

    model_config = ConfigDict(extra="forbid")

    tasks: bool = Field(True, description="publish a review task for every `review` verdict "
                        "(and the audit samples) to kafka.topics.review")
    audit_allow_rate: float = Field(0.01, ge=0, le=1, description="share of `allow` verdicts "
                                    "also sent for review (a function of the verdict id)")
    audit_block_rate: float = Field(0.01, ge=0, le=1, description="share of `block` verdicts "
                                    "also sent for review (a function of the verdict id)")
    decisions_group_id: str = Field("video-moderation-decisions", min_length=1,
                                    description="the decisions consumer's consumer group")
    confirmed_bank: str = Field("", description="folder or fsspec prefix (s3://, gs://) where "
                                "`violating` decisions bank the video's hashes (empty: off)")
    allow_bank: str = Field("", description="folder or fsspec prefix where `not_violating` "
                            "decisions on a known-content match put the entry (empty: off)")
    served_banks: dict[str, str] = Field(
        default_factory=dict, description="bank name -> path of the served banks, to copy a "
        "falsely matched entry from (default: signals.known_content.lists)")
    state_path: str = Field("vmc-decisions.sqlite", min_length=1, description="the decisions "
                            "consumer's sqlite state (rebuilt from the topics when lost)")
    unknown_verdict_wait_s: float = Field(30.0, ge=0, description="a decision whose verdict "
                                          "is not in the signals read so far waits at most this "
                                          "long for them to catch up, then goes to the DLQ")
    precision_floor: float = Field(0.8, ge=0, le=1, description="the alert fires when "
                                   "reviewers confirm fewer block-threshold verdicts than this")
