"""One video's keyframes and model scores -> decision, label tags, technical facts. Pure.

Both `vmc run` and `vmc scan` call this, so a verdict means the same wherever it is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from consumer.inference.triton_client import TextRead
from consumer.media import Keyframes
from consumer.models.specs import ModelSpec
from consumer.policy.decide import (
    INVALID_OUTPUT,
    MODEL_BUDGET_EXCEEDED,
    REVIEW,
    Decision,
    Reason,
    category_scores,
    decide,
    escalate,
    require_coverage,
    with_known_content,
    with_text,
)
from consumer.policy.hash_lists import HashMatch
from consumer.policy.music import CatalogueMatch, music_tags, with_music
from consumer.policy.tagging import LabelTag, black_keyframes, is_static, label_tags
from consumer.policy.text_rules import CompiledRule, TextMatch, match_texts, text_tags
from consumer.settings import PolicySettings


@dataclass(frozen=True)
class Assessment:
    decision: Decision
    labels: list[LabelTag] = field(default_factory=list)
    technical: dict[str, Any] = field(default_factory=dict)
    frames: list[dict[str, Any]] = field(default_factory=list)  # per frame: time, PDQ
    text: list[dict[str, Any]] = field(default_factory=list)  # distinct on-screen strings
    text_matches: list[TextMatch] = field(default_factory=list)
    music: list[dict[str, Any]] = field(default_factory=list)  # catalogue tracks heard


def assess(
    keyframes: Keyframes,
    scores: Mapping[str, npt.NDArray[np.float32]],
    specs: Mapping[str, ModelSpec],
    policy: PolicySettings,
    *,
    inference_error: str | None = None,
    known: Sequence[HashMatch] = (),
    texts: Mapping[int, Sequence[TextRead]] | None = None,
    text_rules: Sequence[CompiledRule] = (),
    music: Sequence[CatalogueMatch] = (),
    given_up: Mapping[str, str] | None = None,
    music_enforced: bool = False,
) -> Assessment:
    """Merge category scores over models (max), apply the policy, the known-content matches
    and the text rules to what was read on screen (`texts`: lines per frame index), and the
    music heard (with `music_enforced`, a soundtrack not heard in full is `review`), and
    describe the video. A model that gave up on the video (`given_up`: model -> why) adds a
    `review` reason; the other models' scores still decide (a policy category only it
    scores is missing, which fails closed)."""
    pts = keyframes.pts_s
    given_up = given_up or {}
    scores = {name: values for name, values in scores.items() if name not in given_up}
    if inference_error is not None:
        decision = Decision(REVIEW, [Reason(INVALID_OUTPUT, None, None, None, REVIEW,
                                            inference_error)])
    else:
        merged: dict[str, npt.NDArray[np.float32]] = {}
        for name, model_scores in scores.items():
            spec = specs[name]
            for category, values in category_scores(model_scores, spec.labels,
                                                    spec.categories).items():
                merged[category] = values if category not in merged \
                    else np.maximum(merged[category], values)
        decision = decide(merged, pts, policy)
    if keyframes.coverage is not None:
        decision = require_coverage(decision, keyframes.coverage, policy)
    decision = with_known_content(decision, known)
    matched = match_texts(text_rules, texts or {}, pts) if inference_error is None else []
    decision = with_text(decision, matched)
    decision = with_music(decision, music, audio=keyframes.audio, why=keyframes.audio_why,
                          enforced=music_enforced)
    decision = escalate(decision, [Reason(MODEL_BUDGET_EXCEEDED, None, None, None, REVIEW, why)
                                   for why in given_up.values()])
    labels: list[LabelTag] = []
    for name, model_scores in scores.items():
        finite = np.nan_to_num(model_scores, nan=0.0, posinf=0.0, neginf=0.0)
        labels += label_tags(name, finite, specs[name].labels, pts, policy.tag_min_score)
    frames = next(iter(keyframes.frames.values()))
    probe = keyframes.probe
    technical = {
        "width": probe.width, "height": probe.height, "fps": round(probe.fps, 3),
        "duration_s": probe.duration_s, "codec": probe.codec, "container": probe.container,
        "rotation": probe.rotation, "has_audio": probe.has_audio, "audio": keyframes.audio,
        "static": is_static(frames), "black_keyframes_at_s": black_keyframes(frames, pts),
    }
    hashed = [{"at_s": round(t, 3), "pdq": h.pdq, "quality": h.quality}
              for t, h in zip(pts, keyframes.hashes, strict=False)]
    return Assessment(decision, labels, technical, hashed, text_tags(texts or {}, pts), matched,
                      music_tags(music))
