"""Signals' per-stream audio listeners in the decode worker (consumer.media.listeners): fed at
their own rate from the one demuxing pass, within the soundtrack's limits, per stream, and a
listener that fails loses its own value only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from consumer.media.soundtrack import hear
from tests.unit.signals.music import sounds


@dataclass
class _Counter:
    fail_after: int | None
    samples: list[int] = field(default_factory=list)

    def feed(self, samples: np.ndarray) -> None:
        assert samples.dtype == np.int16
        self.samples.append(samples.size)
        if self.fail_after is not None and sum(self.samples) > self.fail_after:
            raise RuntimeError("listener broke")

    def finish(self) -> Any:
        return sum(self.samples)


@dataclass(frozen=True)
class _Listener:
    name: str = "count"
    sample_rate: int = 8000
    max_streams: int = 1
    fail_after: int | None = None

    def sink(self) -> _Counter:
        return _Counter(self.fail_after)


def _two_streams(tmp_path: Path) -> Path:
    clip = tmp_path / "clip.wav"
    sounds.write(clip, sounds.white(1, 1.0, 0.1))
    first, second = sounds.white(2, 3.0, 0.1), sounds.white(3, 5.0, 0.1)
    from devstack.samples import make_video

    video = make_video(tmp_path / "v.mp4", seconds=5, width=64, height=48)
    return sounds.with_soundtracks(video, [first, second], tmp_path / "two.mp4", default=0)


def test_each_listener_hears_its_streams_at_its_rate(tmp_path: Path) -> None:
    video = _two_streams(tmp_path)
    with av.open(str(video)) as container:
        heard = hear(container, 4, 3600.0, fingerprint=False,
                     listeners=(_Listener(), _Listener("both", 16000, 2)))
    assert heard.status == "ok" and heard.fingerprints == ()
    (one,) = heard.listened["count"]
    assert one.heard_s == pytest.approx(3.0, abs=0.1)
    assert one.value == pytest.approx(24000, rel=0.03)
    first, second = heard.listened["both"]
    assert (first.heard_s, second.heard_s) == (pytest.approx(3.0, abs=0.1),
                                               pytest.approx(5.0, abs=0.1))
    assert first.stream != second.stream


def test_the_length_cap_cuts_listeners_and_says_so(tmp_path: Path) -> None:
    with av.open(str(_two_streams(tmp_path))) as container:
        heard = hear(container, 4, 2.0, fingerprint=False, listeners=(_Listener(),))
    (value,) = heard.listened["count"]
    assert value.value == 16000 and heard.status == "partial"
    assert "max_soundtrack_s=2" in (heard.why or "")


def test_a_failing_listener_loses_its_value_only(tmp_path: Path) -> None:
    with av.open(str(_two_streams(tmp_path))) as container:
        heard = hear(container, 4, 3600.0,
                     listeners=(_Listener(fail_after=1000), _Listener("ok")))
    (broken,) = heard.listened["count"]
    assert broken.value is None and "listener broke" in (broken.error or "")
    assert heard.listened["ok"][0].value == pytest.approx(24000, rel=0.03)
    assert len(heard.fingerprints) == 2  # Chromaprint still heard every stream


def test_a_stream_that_gives_no_audio_is_not_heard_rather_than_silent(tmp_path: Path) -> None:
    """A stream that does not decode feeds its listener nothing: its value is none with the
    stream's error (a speech kind would otherwise read it as silence)."""
    from devstack.samples import make_video

    clip = make_video(tmp_path / "v.mp4", seconds=3, width=64, height=48)
    broken = sounds.with_soundtracks(clip, [None], tmp_path / "broken.mp4")
    with av.open(str(broken)) as container:
        heard = hear(container, 4, 3600.0, fingerprint=False, listeners=(_Listener(),))
    (value,) = heard.listened["count"]
    assert value.value is None and value.heard_s == 0.0
    assert "does not decode" in (value.error or "")
