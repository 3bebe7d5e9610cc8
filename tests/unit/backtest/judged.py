"""Videos judged by the live `Judge` (no decode, no Triton: evidence given directly), and
their signals records, for the backtest's unit tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from consumer.events.source import SourceRef
from consumer.inference.triton_client import TextRead
from consumer.media import Keyframes, ResizeSpec, VideoProbe
from consumer.media.coverage import Coverage
from consumer.media.frame_hash import FrameHash
from consumer.models.specs import get_spec
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.judge import Judge, Judged
from consumer.pipeline.matching import Matches
from consumer.publishing.limits import RecordLimits
from consumer.publishing.outputs import OutputRecords
from consumer.settings import Settings
from consumer.signals import instances
from consumer.signals.known_content.matching import EntryMatch
from consumer.signals.music.catalogues import CatalogueMatch
from consumer.signals.music.matching import MusicMatch

SPEC = get_spec("nsfw_classifier")  # (sfw, nsfw); nsfw: review 0.5, block 0.8
BANKS = [{"name": "csam", "path": "/nonexistent/csam", "action": "block"},
         {"name": "fp", "path": "/nonexistent/fp", "action": "allow"}]
SIGNALS: dict[str, Any] = {
    "known_content": {"lists": BANKS},
    "text": {"rules": [{"name": "spam", "pattern": "buy now", "action": "review"}]},
    "music": {"catalogues": [{"name": "label", "path": "/nonexistent/cat",
                              "action": "review"}]},
}


def settings(signals: Mapping[str, Any] | None = None, version: str = "2026-11-01") -> Settings:
    return Settings(signals=dict(SIGNALS if signals is None else signals),
                    policy={"version": version})


def judge(configured: Settings, limit_bytes: int = 1 << 20) -> Judge:
    signals = instances(configured)
    for signal in signals:
        signal.open_offline()  # text rules compiled; banks and catalogues not needed
    outputs = OutputRecords(configured.kafka.topics, run_id="live",
                            policy_version=configured.policy.version,
                            model_versions={SPEC.name: SPEC.version},
                            limits=RecordLimits.uniform(limit_bytes))
    return Judge(signals, configured.policy, {SPEC.name: SPEC}, outputs, PipelineHooks())


def keyframes(count: int = 4, *, audio: str = "ok", coverage: Coverage | None = None
              ) -> Keyframes:
    probe = VideoProbe(duration_s=float(count * 2), width=64, height=48, fps=25.0,
                       codec="h264", container="mp4", rotation=0, has_audio=True,
                       bit_rate=None, size_bytes=1000)
    spec = ResizeSpec.of(SPEC)
    frames = {spec: np.zeros((count, spec.size, spec.size, 3), np.uint8)}
    return Keyframes(probe, [i * 2.0 + 0.04 for i in range(count)], frames,
                     coverage=coverage,
                     hashes=[FrameHash(f"{i:x}" * 64, 90, "e" * 64, "") for i in range(count)],
                     audio=audio, audio_why=None if audio == "ok" else "stream cut")


def entry(bank: str = "csam", action: str = "block", frames: tuple[int, ...] = (0, 1),
          query_share: float = 0.5, kind: str = "frame", entry_id: str = "e1") -> EntryMatch:
    return EntryMatch(bank=bank, action=action, entry=0, entry_id=entry_id, kind=kind,  # type: ignore[arg-type]
                      label="decision-7", distance=4, at_s=0.04, entry_at_s=1.0,
                      variant="box", query_share=query_share, compared_share=0.6,
                      covered_s=4.0, decides=True, frames=frames)


def track(confidence: float = 0.9) -> CatalogueMatch:
    return CatalogueMatch("label", "review", MusicMatch("song-1", 1.0, 15.0, 3.0, confidence),
                          1)


def judged(j: Judge, video_id: str, peak: float, *, offset: int = 0, count: int = 4,
           matched: Mapping[str, Any] | None = None,
           texts: Mapping[int, Sequence[TextRead]] | None = None, audio: str = "ok",
           coverage: Coverage | None = None, inference_error: str | None = None,
           given_up: Mapping[str, str] | None = None) -> Judged:
    """One video whose nsfw score peaks at `peak` on its second frame."""
    scores = np.full((count, 2), 0.01, np.float32)
    scores[:, 0] = 0.99
    scores[min(1, count - 1), 1] = peak
    return j(SourceRef("video.uploads", 0, offset), video_id,
             keyframes(count, audio=audio, coverage=coverage),
             scores={SPEC.name: scores}, texts=texts or {}, versions={SPEC.name: "1"},
             matches=Matches(by_signal=dict(matched or {})),
             uploaded_at=datetime(2026, 12, 1, tzinfo=UTC), inference_error=inference_error,
             given_up=given_up)


def reason_keys(reasons: Sequence[Any]) -> list[tuple[Any, ...]]:
    """What a reason decides: category, action, bank/rule, entry, demotion."""
    return sorted((r.category, r.action, r.hash_list, r.rule, r.entry) for r in reasons)
