"""The wrapped detector in onnxruntime against the raw `320n.onnx` fed RGB (the order YOLOv8
was trained on), not against NudeDetector's BGR reading of image files (NudeNet issue #203)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from consumer.models.specs import NSFW_DETECTOR
from tests.unit.triton_models.nudenet_samples import (
    PHOTOS,
    SIZE,
    fidelity_images,
    file_scores,
    raw_detections,
    raw_scores,
)
from triton_models import nudenet_wrap
from triton_models.nudenet_wrap import cached_nudenet_wrap, nudenet_onnx_path, wrap_fingerprint

SCORE_TOLERANCE = 1e-4
Outputs = dict[str, tuple[np.ndarray, np.ndarray]]


def _session(path: Path) -> Any:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return fidelity_images()


@pytest.fixture(scope="module")
def wrapped(wrapped_onnx: Path, images: dict[str, np.ndarray]) -> Outputs:
    """Scores and detections of each image, all run as one batch."""
    batch = np.stack(list(images.values()))
    scores, detections = _session(wrapped_onnx).run(None, {"images": batch})
    return {name: (scores[i], detections[i]) for i, name in enumerate(images)}


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


def test_scores_are_the_raw_models_per_class_max_over_anchors_on_rgb_within_1e4(
        images: dict[str, np.ndarray], wrapped: Outputs) -> None:
    expected = raw_scores(np.stack(list(images.values())))
    diffs = {name: float(np.abs(wrapped[name][0] - want).max())
             for name, want in zip(images, expected, strict=True)}
    assert max(diffs.values()) <= SCORE_TOLERANCE, diffs


def test_scores_deliberately_differ_from_nudedetectors_bgr_reading_of_image_files(
        images: dict[str, np.ndarray], wrapped: Outputs, tmp_path: Path) -> None:
    """NudeDetector on a file (cv2, BGR) feeds the network BGR (NudeNet issue #203): not
    copied. On `astronaut` the BGR reading moves FACE_MALE by about 0.33."""
    diffs = {name: float(np.abs(wrapped[name][0] - file_scores(images[name], tmp_path)).max())
             for name in PHOTOS}
    assert diffs["astronaut"] > 0.2, diffs


def test_detections_are_sorted_clipped_above_threshold_and_zero_padded(
        wrapped: Outputs) -> None:
    for image_scores, rows in wrapped.values():
        assert rows.shape == (NSFW_DETECTOR.max_detections, 6)
        kept = rows[rows[:, 4] > 0]
        assert np.all(rows[len(kept):] == 0), "rows after the last survivor must be zero"
        assert np.all(np.diff(kept[:, 4]) <= 0)
        assert np.all(kept[:, 4] > NSFW_DETECTOR.detection_score_threshold)
        assert np.all((kept[:, :4] >= 0) & (kept[:, :4] <= SIZE))
        assert np.all(kept[:, 2:4] >= kept[:, 0:2])
        for row in kept:
            assert row[4] <= image_scores[int(row[5])] + 1e-6


def test_detections_are_nms_of_the_raw_model_on_rgb(
        images: dict[str, np.ndarray], wrapped: Outputs) -> None:
    compared = 0
    for name, image in images.items():
        expected = raw_detections(image)
        got = [row for row in wrapped[name][1] if row[4] > 0]
        assert [d["class"] for d in expected] == [
            NSFW_DETECTOR.labels[int(r[5])] for r in got], name
        for ref, row in zip(expected, got, strict=True):
            assert abs(ref["score"] - float(row[4])) <= SCORE_TOLERANCE, name
            x, y, w, h = ref["box"]  # NudeDetector truncates to whole pixels
            corners = np.array([x, y, x + w, y + h], np.float32)
            assert np.abs(corners - row[:4]).max() <= 2.0, (name, ref, row)
        compared += len(expected)
    assert compared >= 4, "the image set must exercise detections, not only empty frames"
    assert wrapped["colorwheel"][1][0, 4] > 0.5, "the colour wheel fires the detector"


def test_fingerprint_changes_with_the_source_model(tmp_path: Path) -> None:
    source = tmp_path / "a.onnx"
    source.write_bytes(b"one")
    first = wrap_fingerprint(source)
    source.write_bytes(b"two")
    assert wrap_fingerprint(source) != first


def test_a_wrap_cached_by_other_wrapping_code_is_not_served(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph built before a change to the wrapper (say, the old BGR channel flip) stays in the
    cache under its own fingerprint; the current code builds and serves a new file."""
    built: list[Path] = []

    def fake_wrap(source: Path, out: Path, spec: object) -> Path:
        built.append(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"built by the current wrapper")
        return out

    monkeypatch.setattr(nudenet_wrap, "wrap_nudenet", fake_wrap)
    with monkeypatch.context() as old_code:
        old_code.setattr(nudenet_wrap, "_THIS_SOURCE", b"the wrapper as it was")
        stale = cached_nudenet_wrap(tmp_path)
    served = cached_nudenet_wrap(tmp_path)
    assert built == [stale, served]
    assert served != stale
    assert served.name == f"{NSFW_DETECTOR.name}-{wrap_fingerprint(nudenet_onnx_path())}.onnx"
