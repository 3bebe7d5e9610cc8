"""A new signal is one module and one registration line: the toy `Brightness` signal shows up
in the verdict's reasons, the tags record, /metrics, `vmc scan` and the settings README must
document, with no other file changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from consumer.errors import ConfigError
from consumer.observability.metrics import ConsumerMetrics
from consumer.settings import Settings
from consumer.signals import env_vars, instances, register, unregister
from tests.unit.signals.brightness import Brightness


@pytest.fixture
def registered() -> Iterator[None]:
    register(Brightness)  # the registration line
    try:
        yield
    finally:
        unregister(Brightness)


def test_the_toy_signal_reaches_reasons_tags_and_metrics(registered: None) -> None:
    from tests.unit.pipeline.fakes import rig

    registry = CollectorRegistry()
    r = rig(partitions=1, observer=ConsumerMetrics(registry, "video.uploads"))
    r.broker.event("dark")
    r.broker.event("bright", "https://videos.example/nsfw.mp4")  # white frames
    r.until(r.settled)
    verdicts = {v.json()["video_id"]: v.json() for v in r.broker.on("verdicts")}
    tags = {t.json()["video_id"]: t.json() for t in r.broker.on("tags")}
    assert verdicts["dark"]["verdict"] == "allow" and tags["dark"]["brightness"] == [0.0] * 3
    toy = [x for x in verdicts["bright"]["reasons"] if x["category"] == "too_bright"]
    assert toy == [{"category": "too_bright", "score": 1.0, "threshold": 0.9, "at_s": 0.0,
                    "action": "review"}]
    assert tags["bright"]["brightness"] == [1.0] * 3
    exported = generate_latest(registry).decode()
    assert 'consumer_signal_reasons_total{action="review",signal="brightness"} 1.0' in exported
    assert 'consumer_signal_matches_total{match="bright",signal="brightness"} 1.0' in exported


def test_the_toy_signals_settings_are_a_section_of_their_own(registered: None) -> None:
    assert "VMC_SIGNALS__BRIGHTNESS__THRESHOLD" in env_vars(), "README must document it"
    (toy,) = [s for s in instances(Settings(signals={"brightness": {"threshold": 0.2}}))
              if isinstance(s, Brightness)]
    assert toy.section.threshold == 0.2  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="VMC_SIGNALS__BRIGHTNESS__THRESHOLD"):
        instances(Settings(signals={"brightness": {"threshold": 2}}))
    with pytest.raises(ConfigError, match="no signal named brightnes"):
        instances(Settings(signals={"brightnes": {}}))


def test_vmc_scan_prints_the_toy_signals_reason_and_tags(
        registered: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from consumer.cli import main
    from devstack.samples import make_still_video

    white = make_still_video(tmp_path / "white.mp4", np.full((120, 160, 3), 255, np.uint8))
    monkeypatch.setenv("VMC_SIGNALS__BRIGHTNESS__THRESHOLD", "0.5")
    assert main(["--log-format", "text", "scan", str(white), "--tags"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["category"] for r in record["reasons"]] == ["too_bright"]
    assert record["reasons"][0]["threshold"] == 0.5
    assert record["tags"]["brightness"] and min(record["tags"]["brightness"]) > 0.9
