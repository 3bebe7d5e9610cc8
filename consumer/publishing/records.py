"""The output contracts of design.md section 3, built from a decision. Pure.

`verdict_id` is a hash of what determines a verdict (video, source offset, models and
versions, policy version, run): a redelivered event yields the same id, so downstream upserts
absorb at-least-once duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from consumer.events.source import SourceRef
from consumer.policy.decide import Decision

LIVE_RUN_ID = "live"


def verdict_id(video_id: str, source: SourceRef, models: Mapping[str, str],
               policy_version: str, run_id: str) -> str:
    material = json.dumps([video_id, source.topic, source.partition, source.offset,
                           sorted(models.items()), policy_version, run_id],
                          separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def verdict_record(
    *, video_id: str, decision: Decision, source: SourceRef, models: Mapping[str, str],
    policy_version: str, run_id: str, keyframes_analyzed: int, duration_s: float | None,
    processed_at: datetime, latency_s: float | None, coverage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "verdict_id": verdict_id(video_id, source, models, policy_version, run_id),
        "video_id": video_id,
        "verdict": decision.verdict,
        "reasons": [{k: v for k, v in asdict(r).items() if v is not None or k in
                     ("score", "threshold", "at_s")} for r in decision.reasons],
        "scores": decision.scores,
        "keyframes_analyzed": keyframes_analyzed,
        "duration_s": duration_s,
        "coverage": None if coverage is None else dict(coverage),
        "models": dict(models),
        "policy_version": policy_version,
        "run_id": run_id,
        "source": asdict(source),
        "processed_at": _iso(processed_at),
        "latency_s": None if latency_s is None else round(latency_s, 3),
    }


def tags_record(
    *, video_id: str, verdict_id_: str, fields: Mapping[str, Any], technical: Mapping[str, Any],
    source: SourceRef, run_id: str, processed_at: datetime,
    coverage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`fields`: what each signal adds (labels, frames, text, music, ...), in signal order."""
    return {
        "verdict_id": verdict_id_,
        "video_id": video_id,
        **{name: value for name, value in fields.items()},
        "coverage": None if coverage is None else dict(coverage),
        "technical": dict(technical),
        "run_id": run_id,
        "source": asdict(source),
        "processed_at": _iso(processed_at),
    }


def encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), allow_nan=False).encode()
