"""The signals record: every verdict's full per-frame evidence, for `vmc backtest`. Pure.

One JSON record per verdict on the compacted signals topic (key: video id, so the topic keeps
each video's latest), holding what the decision was made from: each model's per-frame class
scores, the frames' times and PDQ hashes, the text read, what each signal matched (its own
`Signal.record`), coverage and the technical facts. A policy can then be re-decided by the
same `assess` as `vmc run`, with no decode and no inference (consumer/backtest).

Scores are kept to 4 decimals, quantised so that no threshold of at most 4 decimals is decided
differently from the live run: a score is stored as the largest k/10000 whose float32 is at
most the score's float32 (the live comparison is in float32), never rounded up across a
threshold. Non-finite scores are kept as null (read back as NaN: still fail closed).

Fitted to the topic's size limit like the verdict: the bulk that no decision reads goes first
(the frames' hashes), then text, matches and scores; what was cut is named in `truncated`, and
a backtest skips a record cut beyond the hashes (it could not be re-decided faithfully).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from consumer.inference.triton_client import TextRead
from consumer.media import Keyframes
from consumer.models.specs import ModelSpec
from consumer.publishing.dlq import record_bytes, usable_bytes
from consumer.publishing.records import encode

SCHEMA = "vmc.signals/1"
SCORE_SCALE = 10_000  # 4 decimals
TRUNCATED = "truncated"
HASH_FIELDS = ("pdq", "mirror_pdq", "full_pdq")
# Cut in this order when over the limit: first what no decision reads (hashes), then evidence.
CUT_ORDER = (*(("frames", name) for name in HASH_FIELDS), ("texts",), ("matched",),
             ("model_scores",))
LOSSLESS_CUTS = frozenset(f"frames.{name}" for name in HASH_FIELDS)


def quantised(rows: npt.NDArray[np.float32]) -> list[list[float | None]]:
    """[N, C] scores -> nested lists of k/10000 with float32(k/10000) <= score (see above)."""
    values = np.asarray(rows, np.float32)
    wide = values.astype(np.float64)
    finite = np.isfinite(wide)
    k = np.floor(np.where(finite, wide, 0.0) * SCORE_SCALE)
    up = (k + 1) / SCORE_SCALE
    k = np.where(up.astype(np.float32) <= values, k + 1, k)
    k = np.where((k / SCORE_SCALE).astype(np.float32) > values, k - 1, k)
    out = (k / SCORE_SCALE).round(4)
    return [[float(v) if ok else None for v, ok in zip(row, ok_row, strict=True)]
            for row, ok_row in zip(out.tolist(), finite.tolist(), strict=True)]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _texts(texts: Mapping[int, Sequence[TextRead]]) -> dict[str, list[dict[str, Any]]]:
    return {str(index): [{"text": line.text, "confidence": round(float(line.score), 4),
                          "box": [[round(float(x), 1) for x in point] for point in line.box]}
                         for line in lines]
            for index, lines in sorted(texts.items()) if lines}


def signals_record(*, verdict: Mapping[str, Any], keyframes: Keyframes,
                   scores: Mapping[str, npt.NDArray[np.float32]],
                   specs: Mapping[str, ModelSpec], texts: Mapping[int, Sequence[TextRead]],
                   matched: Mapping[str, Any], technical: Mapping[str, Any],
                   uploaded_at: datetime | None, inference_error: str | None,
                   given_up: Mapping[str, str]) -> dict[str, Any]:
    """The record for one judged video; `verdict` is the verdict record as sent, `scores`
    the evidence's (models given up are absent), `matched` each signal's `record` JSON."""
    hashes = keyframes.hashes
    return {
        "schema": SCHEMA,
        "video_id": verdict["video_id"],
        "verdict_id": verdict["verdict_id"],
        "policy_version": verdict["policy_version"],
        "verdict": verdict["verdict"],
        "reasons": verdict["reasons"],
        "scores": verdict["scores"],
        "uploaded_at": _iso(uploaded_at),
        "decided_at": verdict["processed_at"],
        "source": verdict["source"],
        "duration_s": keyframes.probe.duration_s,
        "coverage": verdict.get("coverage"),
        "keyframes_analyzed": len(keyframes.pts_s),
        "frames": {"at_s": [float(t) for t in keyframes.pts_s],
                   "pdq": [h.pdq for h in hashes], "quality": [h.quality for h in hashes],
                   "mirror_pdq": [h.mirror_pdq for h in hashes],
                   "full_pdq": [h.full_pdq for h in hashes]},
        "model_scores": {name: {"classes": list(specs[name].labels),
                                "rows": quantised(rows)}
                         for name, rows in scores.items() if name in specs},
        "texts": _texts(texts),
        "matched": {name: value for name, value in matched.items() if value is not None},
        "inference_error": inference_error,
        "given_up": dict(given_up),
        "technical": {**technical, "audio_why": keyframes.audio_why},
        "model_versions": dict(verdict.get("models") or {}),
    }


def fit_signals(record: Mapping[str, Any], limit_bytes: int, *, key: bytes,
                headers: Sequence[tuple[str, bytes]]) -> tuple[bytes, dict[str, int]]:
    """The encoded record within `limit_bytes` (with key and headers), and what was cut:
    whole fields in `CUT_ORDER`, each emptied only while the record is still too large."""
    budget = usable_bytes(limit_bytes) - record_bytes(key, b"", headers)
    out = dict(record)
    value = encode(out)
    cuts: dict[str, int] = {}
    for path in CUT_ORDER:
        if len(value) <= budget:
            break
        if len(path) == 2:
            frames = dict(out["frames"])
            cuts[".".join(path)] = sum(1 for h in frames[path[1]] if h)
            frames[path[1]] = []
            out["frames"] = frames
        else:
            cuts[path[0]] = len(out[path[0]])
            out[path[0]] = {}
        out[TRUNCATED] = cuts
        value = encode(out)
    return value, cuts

