"""`vmc scan` end to end on this machine: real decode, the real ONNX in onnxruntime, policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from skimage import data

from consumer.cli import main
from devstack.samples import make_still_video, make_video


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_still_video(tmp_path_factory.mktemp("scan") / "astronaut.mp4", data.astronaut())


def _scan(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:  # type: ignore[type-arg]
    assert main(["--log-format", "text", "scan", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_scan_tags_a_real_photo_safe_and_allows_the_video(
    astronaut_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (record,) = _scan(capsys, str(astronaut_video), "--tags")
    assert record["video_id"] == "astronaut"
    assert record["verdict"] == "allow"
    assert record["scores"]["nsfw"] < 0.2
    labels = {tag["label"]: tag for tag in record["tags"]["labels"]}
    assert labels["sfw"]["coverage"] == 1.0
    assert record["tags"]["technical"]["static"] is True
    assert record["keyframes_analyzed"] >= 1


def test_scan_gives_each_input_a_verdict_even_when_unprocessable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_video(tmp_path / "good.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 4096)
    records = _scan(capsys, str(good), str(garbage), str(tmp_path / "missing.mp4"))
    assert [r["verdict"] for r in records] == ["allow", "unprocessable", "unprocessable"]
    assert records[1]["reasons"][0]["category"] == "unsupported_container"
    assert records[2]["reasons"][0]["category"] == "source_unreachable"
    assert len({r["verdict_id"] for r in records}) == 3


def test_a_stricter_policy_from_the_environment_changes_the_verdict(
    astronaut_video: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMC_POLICY__CATEGORIES", json.dumps({"nsfw": {"review": 0.001}}))
    monkeypatch.setenv("VMC_POLICY__VERSION", "strict-review")
    (record,) = _scan(capsys, str(astronaut_video))
    assert record["verdict"] == "review"
    assert record["reasons"][0]["category"] == "nsfw"
    assert record["reasons"][0]["threshold"] == 0.001
    assert record["policy_version"] == "strict-review"
