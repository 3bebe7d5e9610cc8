"""The `Signal` interface: everything one kind of evidence needs, in one class.

A signal may have any of these stages; the defaults do nothing, so a signal implements only
what it has:
- `check`: cross-field checks of the settings (a `ConfigError`), at assembly, for every entry
  point alike (`vmc run`, `vmc scan`, `vmc replay`);
- `needs`: what the decode worker must compute for it (PDQ frame hashes, the soundtrack's
  fingerprints) and which served models it reads (`models`);
- `open`: load its reference data (lists, catalogues) and start what keeps them fresh;
- `match`: work per video that may take time (index look-ups), run off the poll loop;
- `judge`: its reasons under the policy and what it adds to the tags record, with the labels
  of what matched (for its metrics);
- `record` / `restore`: what it matched as JSON for the signals record, and back, re-applying
  the *current* settings (a draft's bank actions and share thresholds) the way `judge` would;
  `open_offline`: what `judge` needs without the matching's reference data (rules compiled),
  so `vmc backtest` re-decides with no decode, no Triton and no bank loaded.
The spine calls these for every registered signal and never names one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, get_origin

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, model_validator

from consumer.policy.decide import Reason

if TYPE_CHECKING:
    from consumer.inference.triton_client import TextRead
    from consumer.media import Keyframes
    from consumer.models.specs import ModelSpec
    from consumer.settings import Settings


class SignalSettings(BaseModel):
    """A signal's own settings section (`signals.<name>`): typos fail at start."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _json_from_env(cls, data: Any) -> Any:
        """Environment variables arrive as text (`VMC_SIGNALS__<NAME>` and
        `VMC_SIGNALS__<NAME>__<FIELD>`, which the settings cannot type: they know no signal);
        a section, list or mapping given as text is read as JSON, as everywhere else."""
        if isinstance(data, str):
            return _json_or_text(data)
        if not isinstance(data, Mapping):
            return data
        return {name: _json_or_text(value) if isinstance(value, str) and name in cls.model_fields
                and _structured(cls.model_fields[name].annotation) else value
                for name, value in data.items()}


def _structured(annotation: Any) -> bool:
    return get_origin(annotation) in (list, dict, tuple, set) or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel))


def _json_or_text(text: str) -> Any:
    """The JSON value, or the text itself (its field's own error then names what is wrong)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Needs:
    """What a signal asks of the decode worker and of Triton."""

    frame_hashes: bool = False  # a PDQ hash of every analysed frame
    soundtrack: bool = False  # every audio stream's Chromaprint fingerprint
    max_soundtrack_s: float = 0.0  # with `soundtrack`: seconds of each stream heard
    max_audio_streams: int = 0  # with `soundtrack`: audio streams heard
    # per-stream computations over the decoded soundtrack (consumer.media.listeners.
    # AudioListener), bounded by the same two limits; their values come back in
    # `Keyframes.audio_listened[listener.name]`
    listeners: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """What one video offers its signals: its frames (per model input), frame hashes and
    soundtrack, the scores of every model that answered (`scores`, rows in `keyframes.pts_s`
    order) and the text read per frame. `outputs_ok` is False when a model's outputs were
    unusable: what depends on them is not judged (the verdict is `review` already)."""

    keyframes: Keyframes
    scores: Mapping[str, npt.NDArray[np.float32]]
    specs: Mapping[str, ModelSpec]
    texts: Mapping[int, Sequence[TextRead]]
    outputs_ok: bool = True
    video_id: str = ""  # what counts as one video (known content's flood quarantine)
    embeddings: Mapping[str, npt.NDArray[np.float32]] = field(default_factory=dict)  # [N, D]
    # the findings of the signals judged before this one (registry order), by name: a signal
    # may build on another's (speech's content kind on music's catalogue coverage)
    earlier: Mapping[str, Finding] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One signal's contribution to a verdict: reasons (each with its action), a summary of
    scores for the verdict's `scores`, fields of the tags record, and what matched (metric
    labels: a list, a rule, a catalogue)."""

    reasons: list[Reason] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    matched: list[str] = field(default_factory=list)
    # Records of its own, by output (a `KafkaTopics` field, e.g. "embeddings"): each is
    # published keyed by the video, in the same transaction as the verdict.
    records: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Opening:
    """What `open` may use: the stack that closes what it starts, the process's metrics (None
    where the entry point exports none), and whether it is a one-off run (`vmc scan`: no
    reload threads)."""

    stack: contextlib.ExitStack
    metrics: Any = None  # consumer.observability.metrics.ConsumerMetrics, or None
    one_off: bool = False


class Signal:
    """Base of every signal; `name` is its settings section and metric label."""

    name: ClassVar[str]
    settings_model: ClassVar[type[SignalSettings]] = SignalSettings

    def __init__(self, settings: Settings, section: SignalSettings) -> None:
        self.settings = settings
        self.section = section

    def check(self) -> None:
        """Refuse settings that cannot work together (`ConfigError`)."""

    def needs(self) -> Needs:
        return Needs()

    @property
    def active(self) -> bool:
        """Whether it has anything to do for this deployment."""
        return True

    def open(self, opening: Opening) -> None:
        """Load reference data; the stack closes what is started."""

    def match(self, keyframes: Keyframes) -> Any:
        """Per-video work that takes time, off the poll loop (must be thread-safe)."""
        return None

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        return Finding()

    def record(self, matched: Any) -> Any:
        """What `match` returned, as JSON (None: nothing to keep)."""
        return None

    def restore(self, data: Any) -> Any:
        """`record`'s JSON -> what `judge` takes as `matched`, under the current settings;
        a value it cannot read raises ValueError (the record is reported and skipped)."""
        return None

    def open_offline(self) -> None:
        """Make `judge` usable without `open` (no reference data loaded, no thread started)."""
