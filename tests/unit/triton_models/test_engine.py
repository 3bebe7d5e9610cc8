from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from triton_models import __main__ as cli
from triton_models import engine
from triton_models.engine import EngineBuild, trtexec_command


def test_trtexec_command_covers_the_batch_profile_fp16_and_workspace() -> None:
    build = EngineBuild(Path("m.onnx"), Path("1/model.plan"), "images", (320, 320, 3),
                        min_batch=1, opt_batch=8, max_batch=16, fp16=True, workspace_mib=2048)
    assert trtexec_command(build) == [
        "trtexec", "--onnx=m.onnx", "--saveEngine=1/model.plan",
        "--minShapes=images:1x320x320x3", "--optShapes=images:8x320x320x3",
        "--maxShapes=images:16x320x320x3", "--memPoolSize=workspace:2048", "--fp16",
        "--skipInference",
    ]


def test_engine_build_rejects_a_profile_out_of_order() -> None:
    with pytest.raises(ValueError, match="min <= opt <= max"):
        EngineBuild(Path("m.onnx"), Path("m.plan"), "images", (8, 8, 3), 4, 2, 8)


def test_build_engine_without_tensorrt_prints_the_exact_trtexec_command(
        wrapped_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(engine.importlib, "import_module", _no_tensorrt)
    plan = tmp_path / "1" / "model.plan"
    assert cli.main(["build-engine", "--onnx", str(wrapped_onnx), "--fp16", "--min-batch", "2",
                     "--opt-batch", "8", "--max-batch", "16", "--out", str(plan)]) == 0
    captured = capsys.readouterr()
    assert shlex.split(captured.out.strip()) == [
        "trtexec", f"--onnx={wrapped_onnx}", f"--saveEngine={plan}",
        "--minShapes=images:2x320x320x3", "--optShapes=images:8x320x320x3",
        "--maxShapes=images:16x320x320x3", "--memPoolSize=workspace:1024", "--fp16",
        "--skipInference",
    ]
    assert "TensorRT" in captured.err
    assert not plan.exists()


def _no_tensorrt(name: str) -> object:
    raise ImportError(f"No module named {name!r}")
