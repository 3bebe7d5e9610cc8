from __future__ import annotations

from pathlib import Path

import pytest

from triton_models.__main__ import main


@pytest.mark.parametrize("command", ["build", "build-engine", "export-torchvision"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert f"usage: python -m triton_models {command}" in capsys.readouterr().out


def test_build_for_gpu_says_how_to_build_the_plan_on_the_serving_gpu(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "repo"
    assert main(["build", "--target", "gpu", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out
    assert f"build-engine --onnx {out}/nsfw_classifier/model.onnx" in printed
    assert f"--out {out}/nsfw_classifier/1/model.plan" in printed


def test_build_refuses_an_unknown_target(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["build", "--target", "tpu", "--out", str(tmp_path)])
    assert exit_.value.code == 2
