"""`vmc scan --triton` scores like the in-process ONNX: one model, two runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from skimage import data

from consumer.cli import main
from devstack.samples import make_still_video
from tests.integration.conftest import RunningStack


def test_scan_through_triton_matches_in_process_scores(
    stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = make_still_video(tmp_path / "astronaut.mp4", data.astronaut())
    assert main(["scan", str(video)]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["scan", str(video), "--triton", stack.addresses.triton_grpc]) == 0
    served = json.loads(capsys.readouterr().out)
    assert served["verdict"] == local["verdict"]
    assert served["scores"].keys() == local["scores"].keys()
    for category, score in local["scores"].items():
        assert served["scores"][category] == pytest.approx(score, abs=1e-4)
