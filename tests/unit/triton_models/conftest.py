"""The wrapped detector, built once for the unit tests that run it in onnxruntime."""

from __future__ import annotations

from pathlib import Path

import pytest

from triton_models.nudenet_wrap import nudenet_onnx_path, wrap_nudenet


@pytest.fixture(scope="session")
def wrapped_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wrap_nudenet(nudenet_onnx_path(), tmp_path_factory.mktemp("wrap") / "model.onnx")
