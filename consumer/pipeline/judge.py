"""A decoded and inferred video -> its verdict and tags records, through every signal.

One builder for `vmc run` (Outcomes) and `vmc scan`, so both print the same records; it also
reports each signal's time, matches and reasons to the hooks (metrics).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from consumer.events.source import SourceRef
from consumer.inference.triton_client import TextRead
from consumer.media import Keyframes
from consumer.models.specs import ModelSpec
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.matching import Matches
from consumer.publishing.outputs import OutputRecords, Record
from consumer.publishing.signals_record import signals_record
from consumer.settings import PolicySettings
from consumer.signals.assess import Assessment, assess
from consumer.signals.base import Evidence, Signal


@dataclass(frozen=True)
class Judged:
    verdict: Record
    content: dict[str, Any]  # the verdict as built (latency, ids)
    tags: Record
    assessment: Assessment
    signals: Record  # the evidence, for backtests (signals topic)
    own: tuple[Record, ...] = ()  # the signals' records of their own (Finding.records)


@dataclass(frozen=True)
class Judge:
    signals: Sequence[Signal]
    policy: PolicySettings
    specs: Mapping[str, ModelSpec]
    outputs: OutputRecords
    hooks: PipelineHooks

    def __call__(self, source: SourceRef, video_id: str, keyframes: Keyframes, *,
                 scores: Mapping[str, npt.NDArray[np.float32]],
                 texts: Mapping[int, Sequence[TextRead]], versions: Mapping[str, str],
                 matches: Matches, uploaded_at: datetime | None,
                 inference_error: str | None = None,
                 given_up: Mapping[str, str] | None = None,
                 embeddings: Mapping[str, npt.NDArray[np.float32]] | None = None) -> Judged:
        given_up = given_up or {}
        evidence = Evidence(keyframes, {n: v for n, v in scores.items() if n not in given_up},
                            self.specs, texts, outputs_ok=inference_error is None,
                            video_id=video_id, embeddings={
                                n: v for n, v in (embeddings or {}).items() if n not in given_up})
        result = assess(evidence, self.signals, self.policy, matched=matches.by_signal,
                        inference_error=inference_error, given_up=given_up)
        self._report(keyframes, matches, result)
        coverage = keyframes.coverage.as_json() if keyframes.coverage else None
        verdict, content = self.outputs.verdict(
            source, video_id, result.decision, versions=versions, uploaded_at=uploaded_at,
            keyframes_analyzed=len(keyframes.pts_s), duration_s=keyframes.probe.duration_s,
            coverage=coverage)
        tags = self.outputs.tags(source, content, fields=result.tags,
                                 technical=result.technical, coverage=coverage)
        record = signals_record(
            verdict=content, keyframes=keyframes, scores=evidence.scores, specs=self.specs,
            texts=texts, matched={signal.name: signal.record(matches.by_signal.get(signal.name))
                                  for signal in self.signals},
            technical=result.technical, uploaded_at=uploaded_at,
            inference_error=inference_error, given_up=given_up)
        own = tuple(self.outputs.own(source, output, video_id, value)
                    for finding in result.findings.values()
                    for output, value in finding.records.items())
        return Judged(verdict, content, tags, result, self.outputs.signals(source, record), own)

    def _report(self, keyframes: Keyframes, matches: Matches, result: Assessment) -> None:
        if keyframes.hashes:
            self.hooks.signal_time("pdq", keyframes.hash_s)
        if keyframes.audio not in ("off", "none"):  # a soundtrack was decoded
            self.hooks.signal_time("audio", keyframes.audio_s)
        for timed, seconds in matches.seconds.items():
            self.hooks.signal_time(timed, seconds)
        for name, finding in result.findings.items():
            for label in finding.matched:
                self.hooks.signal_match(name, label)
            for reason in finding.reasons:
                self.hooks.signal_reason(name, reason.action)
