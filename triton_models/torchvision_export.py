"""Export a torchvision classifier as a tagging model with the same uint8 contract.

The exported graph takes uint8 NHWC RGB `[B, S, S, 3]` (stretched to S by the client), scales,
normalises with the ImageNet statistics torchvision's weights expect, goes NCHW, and returns
`scores` `[B, classes]` (softmax or sigmoid). Users bring their own weights: nothing is fetched.
The export is checked against torch in onnxruntime before it is written into the repository.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torchvision

from consumer.models.specs import ModelSpec, classifier_spec
from triton_models.configs import Target
from triton_models.repository import write_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OPSET = 17
PARITY_ATOL = 1e-4
PARITY_BATCHES = (1, 3, 8)
Activation = Literal["softmax", "sigmoid"]


class Uint8Classifier(torch.nn.Module):
    """uint8 NHWC in, class scores out: the preprocessing lives in the graph."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: torch.nn.Module, activation: Activation) -> None:
        super().__init__()
        self.model = model
        self.activation = activation
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255.0
        logits = self.model((x - self.mean) / self.std)
        if self.activation == "sigmoid":
            return torch.sigmoid(logits)
        return torch.softmax(logits, dim=1)


@dataclass(frozen=True)
class ExportResult:
    model_dir: Path
    spec: ModelSpec
    max_abs_diff: float


def read_labels(path: Path) -> tuple[str, ...]:
    labels = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not labels:
        raise ValueError(f"no labels in {path}")
    return labels


def load_classifier(arch: str, weights: Path, num_classes: int) -> torch.nn.Module:
    """A torchvision architecture with the user's state_dict; its head must match the labels."""
    model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    classifier: torch.nn.Module = model.eval()
    return classifier


def export_onnx(wrapper: torch.nn.Module, out: Path, spec: ModelSpec) -> Path:
    """Legacy (TorchScript) exporter: no onnxscript needed, and it handles every classifier."""
    sample = torch.zeros((2, *spec.input_dims), dtype=torch.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapper, (sample,), str(out),
            input_names=[spec.input_name], output_names=[spec.scores_output],
            dynamic_axes={spec.input_name: {0: "batch"}, spec.scores_output: {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )
    return out


def parity(wrapper: torch.nn.Module, onnx_path: Path, spec: ModelSpec, *,
           seed: int = 0) -> float:
    """Largest |torch - onnxruntime| over random uint8 batches of several sizes."""
    import onnxruntime as ort

    session: Any = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for batch in PARITY_BATCHES:
        images = rng.integers(0, 256, size=(batch, *spec.input_dims), dtype=np.uint8)
        with torch.no_grad():
            expected = wrapper(torch.from_numpy(images)).numpy()
        (got,) = session.run([spec.scores_output], {spec.input_name: images})
        worst = max(worst, float(np.abs(expected - got).max()))
    return worst


def export_torchvision(arch: str, weights: Path, labels_file: Path, out: Path, *,
                       name: str | None = None, input_size: int = 224,
                       activation: Activation = "softmax", target: Target = "cpu",
                       max_batch_size: int = 32) -> ExportResult:
    """Export, check parity, and write `<out>/<name>/` as a model folder for `target`."""
    labels = read_labels(labels_file)
    spec = classifier_spec(name or arch, labels, input_size=input_size,
                           max_batch_size=max_batch_size)
    wrapper = Uint8Classifier(load_classifier(arch, weights, len(labels)), activation).eval()
    onnx_path = out / f".{spec.name}.export.onnx"
    try:
        export_onnx(wrapper, onnx_path, spec)
        worst = parity(wrapper, onnx_path, spec)
        if worst > PARITY_ATOL:
            raise RuntimeError(f"{arch}: torch and ONNX disagree by {worst:.2e} "
                               f"(limit {PARITY_ATOL:.0e})")
        model_dir = write_model(out, spec, target, onnx_path)
    finally:
        onnx_path.unlink(missing_ok=True)
    return ExportResult(model_dir, spec, worst)
