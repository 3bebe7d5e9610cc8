"""One video's evidence -> decision, tags and technical facts, through every signal. Pure.

Signals judge in registry order, each seeing the earlier ones' findings (`Evidence.earlier`).
The decision's rules are here and only here: the coverage rule runs first (a video not looked
at over its whole length is at least `review`), then each signal's reasons in registry order,
the strongest action winning; model outputs that were unusable or given up add `review`
reasons; an `unprocessable` verdict is never changed. `vmc run` and `vmc scan` both call this,
so a verdict means the same wherever it is made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consumer.policy.decide import (
    ALLOW,
    INVALID_OUTPUT,
    MODEL_BUDGET_EXCEEDED,
    REVIEW,
    Decision,
    Reason,
    escalate,
    require_coverage,
)
from consumer.policy.tagging import black_keyframes, is_static
from consumer.settings import PolicySettings
from consumer.signals.base import Evidence, Finding, Signal


@dataclass(frozen=True)
class Assessment:
    decision: Decision
    tags: dict[str, Any] = field(default_factory=dict)  # each signal's tags fields
    technical: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)  # by signal name


def assess(evidence: Evidence, signals: Sequence[Signal], policy: PolicySettings, *,
           matched: Mapping[str, Any] | None = None, inference_error: str | None = None,
           given_up: Mapping[str, str] | None = None) -> Assessment:
    """Every signal judges the evidence (`matched`: what each matched off the loop); the
    decision combines their reasons. `inference_error`: model outputs were unusable;
    `given_up`: model -> why it gave up on this video (its scores are absent from the
    evidence, so a category only it scores is missing, which fails closed)."""
    matched = matched or {}
    keyframes = evidence.keyframes
    findings: dict[str, Finding] = {}
    for signal in signals:  # each sees the findings of those judged before it
        findings[signal.name] = signal.judge(
            dataclasses.replace(evidence, earlier=dict(findings)), matched.get(signal.name))
    decision = Decision(ALLOW)
    if keyframes.coverage is not None:
        decision = require_coverage(decision, keyframes.coverage, policy)
    if inference_error is not None:
        decision = escalate(decision, [Reason(INVALID_OUTPUT, None, None, None, REVIEW,
                                              inference_error)])
    for finding in findings.values():
        decision = escalate(decision, finding.reasons)
        if finding.scores:
            decision = Decision(decision.verdict, decision.reasons,
                                {**decision.scores, **finding.scores})
    decision = escalate(decision, [Reason(MODEL_BUDGET_EXCEEDED, None, None, None, REVIEW, why)
                                   for why in (given_up or {}).values()])
    tags: dict[str, Any] = {}
    for finding in findings.values():
        tags.update(finding.tags)
    frames = next(iter(keyframes.frames.values()), None)
    if frames is None:  # re-decided from a signals record (`vmc backtest`): no pixels
        return Assessment(decision, tags, {}, findings)
    probe = keyframes.probe
    technical = {
        "width": probe.width, "height": probe.height, "fps": round(probe.fps, 3),
        "duration_s": probe.duration_s, "codec": probe.codec, "container": probe.container,
        "rotation": probe.rotation, "has_audio": probe.has_audio, "audio": keyframes.audio,
        "static": is_static(frames), "black_keyframes_at_s": black_keyframes(frames,
                                                                          keyframes.pts_s),
    }
    return Assessment(decision, tags, technical, findings)
