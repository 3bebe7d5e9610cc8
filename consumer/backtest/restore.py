"""A signals record (consumer/publishing/signals_record.py) -> what `assess` takes. Pure.

A record that cannot be read (not JSON, another schema, a field of the wrong type, a model
whose classes changed since) raises `BadRecord` with a short, stable `reason`: the backtest
reports and skips it, it never stops.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from consumer.inference.triton_client import TextRead
from consumer.media import Keyframes
from consumer.media.coverage import Coverage
from consumer.media.frame_hash import FrameHash
from consumer.media.probe import VideoProbe
from consumer.models.specs import ModelSpec, get_spec
from consumer.publishing.signals_record import LOSSLESS_CUTS, SCHEMA
from consumer.signals.base import Evidence


class BadRecord(ValueError):
    """A signals record that cannot be re-decided; `reason` is a stable label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class Restored:
    """One record's evidence and what the live run decided from it."""

    record: dict[str, Any]
    evidence: Evidence
    matched: Mapping[str, Any]  # each signal's `record` JSON, by signal name
    inference_error: str | None
    given_up: Mapping[str, str]

    @property
    def video_id(self) -> str:
        return str(self.record["video_id"])


def parse(value: bytes | None) -> dict[str, Any]:
    """The record's JSON, checked for its schema."""
    try:
        record = json.loads(value or b"")
    except ValueError as exc:
        raise BadRecord("not_json", str(exc)) from None
    if not isinstance(record, dict):
        raise BadRecord("not_json", "not a JSON object")
    if record.get("schema") != SCHEMA:
        raise BadRecord("schema", f"schema {record.get('schema')!r}, expected {SCHEMA!r}")
    if not isinstance(record.get("video_id"), str) or not record["video_id"]:
        raise BadRecord("malformed", "no video_id")
    cut = set(record.get("truncated") or {}) - LOSSLESS_CUTS
    if cut:
        raise BadRecord("truncated", f"evidence cut to fit the topic: {sorted(cut)}")
    return record


def _coverage(data: Any, duration_s: float) -> Coverage | None:
    if data is None:
        return None
    return Coverage([float(t) for t in data["analysed_s"]], duration_s,
                    float(data["largest_gap_s"]), float(data["max_gap_s"]),
                    bool(data["complete"]), data.get("stopped_by"))


def _probe(technical: Mapping[str, Any], duration_s: float) -> VideoProbe:
    return VideoProbe(duration_s=duration_s, width=int(technical.get("width") or 0),
                      height=int(technical.get("height") or 0),
                      fps=float(technical.get("fps") or 0.0),
                      codec=str(technical.get("codec") or ""),
                      container=str(technical.get("container") or ""),
                      rotation=int(technical.get("rotation") or 0),
                      has_audio=bool(technical.get("has_audio")), bit_rate=None,
                      size_bytes=None)


def _scores(data: Mapping[str, Any], specs: Callable[[str], ModelSpec], frames: int
            ) -> tuple[dict[str, Any], dict[str, ModelSpec]]:
    scores, used = {}, {}
    for name, model in data.items():
        try:
            spec = specs(name)
        except KeyError:
            raise BadRecord("unknown_model", f"model {name!r} has no spec here") from None
        if list(model["classes"]) != list(spec.labels):
            raise BadRecord("classes_changed", f"{name}: recorded classes differ from the "
                            "model's labels now")
        rows = np.array([[np.nan if v is None else v for v in row] for row in model["rows"]],
                        dtype=np.float32).reshape(-1, len(spec.labels))
        if len(rows) != frames:
            raise BadRecord("malformed", f"{name}: {len(rows)} score rows for {frames} frames")
        scores[name], used[name] = rows, spec
    return scores, used


def restore(record: dict[str, Any], specs: Callable[[str], ModelSpec] = get_spec) -> Restored:
    """The evidence of a parsed record; `specs` names each model's classes and categories."""
    try:
        frames = record["frames"]
        pts = [float(t) for t in frames["at_s"]]
        duration_s = float(record["duration_s"] or 0.0)
        technical = record.get("technical") or {}
        qualities = frames.get("quality") or []
        hashes = [FrameHash(pdq, int(quality), mirror, full) for pdq, quality, mirror, full
                  in zip(frames.get("pdq") or [], qualities, frames.get("mirror_pdq") or [],
                         frames.get("full_pdq") or [], strict=False)]
        keyframes = Keyframes(probe=_probe(technical, duration_s), pts_s=pts, frames={},
                              coverage=_coverage(record.get("coverage"), duration_s),
                              hashes=hashes, audio=str(technical.get("audio") or "off"),
                              audio_why=technical.get("audio_why"))
        scores, used = _scores(record.get("model_scores") or {}, specs, len(pts))
        texts = {int(index): [TextRead(str(line["text"]), float(line["confidence"]),
                                       tuple((float(p[0]), float(p[1]))
                                             for p in line.get("box") or ()))
                              for line in lines]
                 for index, lines in (record.get("texts") or {}).items()}
        error = record.get("inference_error")
        evidence = Evidence(keyframes, scores, used, texts, outputs_ok=error is None,
                            video_id=record["video_id"])
        return Restored(record, evidence, dict(record.get("matched") or {}),
                        None if error is None else str(error),
                        {str(k): str(v) for k, v in (record.get("given_up") or {}).items()})
    except BadRecord:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRecord("malformed", f"{type(exc).__name__}: {exc}") from None
