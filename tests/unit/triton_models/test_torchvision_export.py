from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torchvision

from triton_models.__main__ import main
from triton_models.configs import parse_config
from triton_models.torchvision_export import Uint8Classifier, export_torchvision

LABELS = ("cat", "dog", "car", "tree", "person")


def _random_weights(arch: str, path: Path, num_classes: int = len(LABELS)) -> Path:
    torch.manual_seed(0)
    model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture
def labels_file(tmp_path: Path) -> Path:
    path = tmp_path / "labels.txt"
    path.write_text("\n".join(LABELS) + "\n")
    return path


@pytest.mark.parametrize("arch", ["mobilenet_v3_small", "resnet18"])
def test_export_matches_torch_within_1e4_on_uint8_batches_of_several_sizes(
        arch: str, tmp_path: Path, labels_file: Path) -> None:
    weights = _random_weights(arch, tmp_path / "w.pt")
    assert main(["export-torchvision", "--arch", arch, "--weights", str(weights),
                 "--labels", str(labels_file), "--out", str(tmp_path / "repo"),
                 "--name", "tags", "--input-size", "160"]) == 0
    onnx_path = tmp_path / "repo" / "tags" / "1" / "model.onnx"
    model = onnx.load(str(onnx_path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8

    state = torch.load(weights, weights_only=True)
    reference = torchvision.models.get_model(arch, weights=None, num_classes=len(LABELS))
    reference.load_state_dict(state)
    wrapper = Uint8Classifier(reference.eval(), "softmax").eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(11)
    for batch in (1, 2, 5):
        images = rng.integers(0, 256, size=(batch, 160, 160, 3), dtype=np.uint8)
        with torch.no_grad():
            expected = wrapper(torch.from_numpy(images)).numpy()
        (got,) = session.run(["scores"], {"images": images})
        assert got.shape == (batch, len(LABELS))
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_export_writes_a_model_folder_whose_config_matches_the_labels(
        tmp_path: Path, labels_file: Path) -> None:
    weights = _random_weights("mobilenet_v3_small", tmp_path / "w.pt")
    result = export_torchvision("mobilenet_v3_small", weights, labels_file, tmp_path / "repo",
                                input_size=96, target="onnxruntime")
    assert result.max_abs_diff <= 1e-4
    config = parse_config((result.model_dir / "config.pbtxt").read_text())
    assert config.name == "mobilenet_v3_small" == result.model_dir.name
    assert [tuple(o.dims) for o in config.output] == [(len(LABELS),)]
    assert (result.model_dir / "labels.txt").read_text().split() == list(LABELS)
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["mobilenet_v3_small"]


def test_export_refuses_weights_whose_head_does_not_match_the_labels(
        tmp_path: Path, labels_file: Path) -> None:
    weights = _random_weights("resnet18", tmp_path / "w.pt", num_classes=10)
    with pytest.raises(RuntimeError, match="size mismatch"):
        export_torchvision("resnet18", weights, labels_file, tmp_path / "repo")
