from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from skimage import data

from triton_models.nudenet_wrap import nudenet_onnx_path, wrap_fingerprint
from triton_models.specs import NSFW_DETECTOR

SIZE = NSFW_DETECTOR.input_size


def _session(path: Path) -> Any:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _square(image: np.ndarray) -> np.ndarray:
    """A 320x320 RGB crop-and-subsample of a photo, so no resize is involved on either side."""
    side = min(image.shape[:2])
    step = max(1, side // SIZE)
    crop = image[: SIZE * step : step, : SIZE * step : step]
    out = np.zeros((SIZE, SIZE, 3), np.uint8)
    out[: crop.shape[0], : crop.shape[1]] = crop
    return out


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.stack([_square(data.astronaut()), _square(data.colorwheel()),
                     _square(data.coffee()),
                     rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)])


def test_wrapped_graph_declares_uint8_nhwc_input_and_the_spec_outputs(wrapped_onnx: Path) -> None:
    model = onnx.load(str(wrapped_onnx))
    (graph_input,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert graph_input.name == NSFW_DETECTOR.input_name
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert dims == ["batch", SIZE, SIZE, 3]
    outputs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
               for o in model.graph.output}
    assert outputs == {name: ["batch", *dims] for name, dims in NSFW_DETECTOR.output_dims().items()}


def _raw_scores(images: np.ndarray) -> np.ndarray:
    """The raw `320n.onnx`, fed what YOLOv8 was trained on: RGB, float NCHW, 0..1."""
    blob = images.astype(np.float32).transpose(0, 3, 1, 2) * np.float32(1 / 255)
    (raw,) = _session(nudenet_onnx_path()).run(None, {"images": blob})
    return np.asarray(raw[:, 4:, :].max(axis=2))


def test_scores_are_the_raw_detectors_per_class_max_over_anchors_on_rgb_input(
        wrapped_onnx: Path, batch: np.ndarray) -> None:
    scores, _ = _session(wrapped_onnx).run(None, {"images": batch})
    assert np.abs(scores - _raw_scores(batch)).max() <= 1e-4


def test_the_served_model_deliberately_differs_from_nudedetectors_bgr_on_files(
        wrapped_onnx: Path, batch: np.ndarray) -> None:
    """NudeDetector on image files feeds the network BGR (NudeNet issue #203): not copied."""
    scores, _ = _session(wrapped_onnx).run(None, {"images": batch})
    bgr = _raw_scores(batch[..., ::-1])
    assert np.abs(scores - bgr).max() > 0.05


def test_detections_are_sorted_clipped_above_threshold_and_zero_padded(
        wrapped_onnx: Path, batch: np.ndarray) -> None:
    scores, detections = _session(wrapped_onnx).run(None, {"images": batch})
    assert detections.shape == (len(batch), NSFW_DETECTOR.max_detections, 6)
    for image_scores, rows in zip(scores, detections, strict=True):
        kept = rows[rows[:, 4] > 0]
        assert np.all(rows[len(kept):] == 0), "rows after the last survivor must be zero"
        assert np.all(np.diff(kept[:, 4]) <= 0)
        assert np.all(kept[:, 4] > NSFW_DETECTOR.detection_score_threshold)
        assert np.all((kept[:, :4] >= 0) & (kept[:, :4] <= SIZE))
        assert np.all(kept[:, 2:4] >= kept[:, 0:2])
        for row in kept:
            assert row[4] <= image_scores[int(row[5])] + 1e-6
    assert detections[1, 0, 4] > 0.5, "the colour wheel fires the detector: a useful fixture"


def test_detections_match_nudedetectors_postprocessing_of_the_raw_model_on_rgb(
        wrapped_onnx: Path, batch: np.ndarray) -> None:
    """NudeDetector given an array passes its channels through unchanged (its two swaps
    cancel): handed RGB, it runs the raw model on RGB, with its own NMS as the reference."""
    from nudenet import NudeDetector

    detector = NudeDetector()
    _, detections = _session(wrapped_onnx).run(None, {"images": batch})
    for image, rows in zip(batch, detections, strict=True):
        expected = [(d["class"], d["score"]) for d in detector.detect(image.copy())]
        got = [(NSFW_DETECTOR.labels[int(r[5])], float(r[4])) for r in rows if r[4] > 0]
        assert [c for c, _ in got] == [c for c, _ in expected]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-5)


def test_fingerprint_changes_with_the_source_model(tmp_path: Path) -> None:
    source = tmp_path / "a.onnx"
    source.write_bytes(b"one")
    first = wrap_fingerprint(source)
    source.write_bytes(b"two")
    assert wrap_fingerprint(source) != first
