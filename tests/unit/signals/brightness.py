"""A toy signal, as a team would add one: mean brightness per analysed frame, and `review`
when a frame is brighter than its threshold. This module and one `register(...)` line are all
it takes; nothing else in the project changes for it."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from consumer.policy.decide import REVIEW, Reason
from consumer.signals import Evidence, Finding, Signal, SignalSettings


class BrightnessSettings(SignalSettings):
    threshold: float = Field(0.9, ge=0, le=1, description="mean brightness (0-1) of a frame "
                             "above which the video needs a look")


class Brightness(Signal):
    name: ClassVar[str] = "brightness"
    settings_model: ClassVar[type[SignalSettings]] = BrightnessSettings

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        assert isinstance(self.section, BrightnessSettings)
        frames = next(iter(evidence.keyframes.frames.values()))
        means = [round(float(np.asarray(frame).mean()) / 255, 4) for frame in frames]
        bright = [i for i, mean in enumerate(means) if mean > self.section.threshold]
        reasons = [Reason("too_bright", means[bright[0]], self.section.threshold,
                          evidence.keyframes.pts_s[bright[0]], REVIEW)] if bright else []
        return Finding(reasons=reasons, tags={"brightness": means},
                       matched=["bright"] if bright else [])
