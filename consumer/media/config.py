"""What a decode worker is told: one picklable object built from the settings' groups
(`decode` limits, `sampling`, `workers`, `gpu`) and from what the signals ask of the worker
(frame hashes, the soundtrack and its limits).

The signals' needs are resolved by the assembly (consumer/assembly.py), so the worker computes
only what some signal will read; media knows no signal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from consumer.settings import (
    DecodeSettings,
    GpuSettings,
    SamplingSettings,
    Settings,
    WorkerSettings,
)

if TYPE_CHECKING:
    from consumer.media.listeners import AudioListener


@dataclass(frozen=True)
class DecodeConfig:
    """The groups by their settings names (`limits` is the `decode` section), plus the
    signals' needs; the defaults compute no hash and hear no soundtrack."""

    limits: DecodeSettings = field(default_factory=DecodeSettings)
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    gpu: GpuSettings = field(default_factory=GpuSettings)
    frame_hashes: bool = False  # a PDQ hash of every analysed frame
    soundtrack: bool = False  # every audio stream's Chromaprint fingerprint
    max_soundtrack_s: float = 3600.0  # with `soundtrack`: seconds of each stream heard
    max_audio_streams: int = 4  # with `soundtrack`: audio streams heard
    # per-stream computations over the decoded soundtrack (consumer.media.listeners), within
    # the same limits as the fingerprints
    listeners: tuple[AudioListener, ...] = ()

    @classmethod
    def of(cls, settings: Settings, *, frame_hashes: bool = False, soundtrack: bool = False,
           max_soundtrack_s: float = 3600.0, max_audio_streams: int = 4,
           listeners: tuple[AudioListener, ...] = ()) -> DecodeConfig:
        """The settings' groups, and what the signals need of the worker."""
        return cls(settings.decode, settings.sampling, settings.workers, settings.gpu,
                   frame_hashes=frame_hashes, soundtrack=soundtrack,
                   max_soundtrack_s=max_soundtrack_s, max_audio_streams=max_audio_streams,
                   listeners=listeners)

    @property
    def hears(self) -> bool:
        """Whether the worker decodes the soundtrack (for fingerprints or a listener)."""
        return self.soundtrack or bool(self.listeners)

    @property
    def nvdec(self) -> bool:
        return self.gpu.decode == "nvdec"

    def on_cpu(self) -> DecodeConfig:
        """The same, decoding on the CPU (the CPU workers of a GPU node)."""
        return dataclasses.replace(self, gpu=self.gpu.model_copy(update={"decode": "cpu"}))

    def with_workers(self, count: int) -> DecodeConfig:
        """At most `count` CPU workers (a one-off run over `count` inputs)."""
        return dataclasses.replace(self, workers=self.workers.model_copy(
            update={"count": min(self.workers.count, count)}))

    def with_sampling(self, **update: object) -> DecodeConfig:
        return dataclasses.replace(self, sampling=self.sampling.model_copy(update=update))
