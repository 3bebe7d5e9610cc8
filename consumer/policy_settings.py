"""The decision's own settings: the policy's version and how coverage cut short is judged.

Each signal's thresholds, lists, rules and catalogues live in its own section
(`signals.<name>`, validated by the signal's model in consumer/signals); this module imports
nothing of the project, so `settings` -> `policy` never loops.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PolicySettings(BaseModel):
    """The rules that combine the signals: `version` names this policy in every verdict."""

    model_config = ConfigDict(extra="forbid")

    version: str = "2026-11-01"
    incomplete_coverage: Literal["review", "scores"] = Field(
        "review", description="a video not looked at over its whole length: `review` (fail "
        "closed), or `scores` to let the scores of what was seen decide alone")
