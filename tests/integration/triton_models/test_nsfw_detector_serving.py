"""The served `nsfw_detector` (cpu target in the real tritonserver) against the raw `320n.onnx`
fed what YOLOv8 was trained on (RGB), not against NudeDetector's BGR reading of image files
(NudeNet issue #203)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from consumer.models.specs import NSFW_DETECTOR
from tests.integration.conftest import RunningStack
from tests.unit.triton_models.nudenet_samples import (
    PHOTOS,
    SIZE,
    fidelity_images,
    file_scores,
    raw_detections,
    raw_scores,
)

SCORE_TOLERANCE = 1e-4
REPORTED = 0.5
Served = dict[str, tuple[np.ndarray, np.ndarray]]


def infer(client: Any, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tritonclient.grpc as grpcclient

    tensor = grpcclient.InferInput(NSFW_DETECTOR.input_name, list(images.shape), "UINT8")
    tensor.set_data_from_numpy(images)
    assert NSFW_DETECTOR.detections_output is not None
    result = client.infer(NSFW_DETECTOR.name, [tensor], client_timeout=60)
    return (result.as_numpy(NSFW_DETECTOR.scores_output),
            result.as_numpy(NSFW_DETECTOR.detections_output))


@pytest.fixture(scope="module")
def client(stack: RunningStack) -> Any:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(stack.addresses.triton_grpc)
    assert client.is_model_ready(NSFW_DETECTOR.name)
    return client


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return fidelity_images()


@pytest.fixture(scope="module")
def served(client: Any, images: dict[str, np.ndarray]) -> Served:
    """Each image served alone (a batch of 1)."""
    out = {}
    for name, image in images.items():
        scores, detections = infer(client, image[None])
        out[name] = (scores[0], detections[0])
    return out


def test_served_config_is_the_spec(client: Any) -> None:
    config = client.get_model_config(NSFW_DETECTOR.name).config
    assert config.max_batch_size == NSFW_DETECTOR.max_batch_size
    assert [(i.name, tuple(i.dims)) for i in config.input] == [
        (NSFW_DETECTOR.input_name, NSFW_DETECTOR.input_dims)]
    assert {o.name: tuple(o.dims) for o in config.output} == NSFW_DETECTOR.output_dims()
    assert list(config.dynamic_batching.preferred_batch_size) == list(
        NSFW_DETECTOR.preferred_batch_sizes)


def test_served_scores_match_the_raw_model_on_rgb_within_1e4_per_class(
        images: dict[str, np.ndarray], served: Served) -> None:
    expected = raw_scores(np.stack(list(images.values())))
    diffs = {name: float(np.abs(served[name][0] - want).max())
             for name, want in zip(images, expected, strict=True)}
    assert max(diffs.values()) <= SCORE_TOLERANCE, diffs


def test_the_served_model_is_not_nudedetectors_bgr_reading_of_image_files(
        images: dict[str, np.ndarray], served: Served, tmp_path: Path) -> None:
    """NudeDetector on a file (cv2, BGR) feeds the network BGR (NudeNet issue #203): not
    copied. On `astronaut` the BGR reading moves FACE_MALE by about 0.33."""
    diffs = {name: float(np.abs(served[name][0] - file_scores(images[name], tmp_path)).max())
             for name in PHOTOS}
    assert diffs["astronaut"] > 0.2, diffs


def test_served_detections_above_05_are_the_raw_models_on_rgb(
        images: dict[str, np.ndarray], served: Served) -> None:
    compared = 0
    for name, image in images.items():
        want = [d for d in raw_detections(image) if d["score"] > REPORTED]
        got = [row for row in served[name][1] if row[4] > REPORTED]
        assert [d["class"] for d in want] == [NSFW_DETECTOR.labels[int(r[5])] for r in got], name
        for ref, row in zip(want, got, strict=True):
            assert abs(ref["score"] - float(row[4])) <= SCORE_TOLERANCE, name
            x, y, w, h = ref["box"]  # NudeDetector's post-processing truncates to whole pixels
            corners = np.array([x, y, x + w, y + h], np.float32)
            assert np.abs(corners - row[:4]).max() <= 2.0, (name, ref, row)
        compared += len(want)
    assert compared >= 2, "the image set must exercise detections, not only empty frames"


def test_a_batch_of_8_gives_each_image_what_it_gets_alone(
        client: Any, images: dict[str, np.ndarray],
        served: Served) -> None:
    names = list(images)[:8]
    scores, detections = infer(client, np.stack([images[n] for n in names]))
    for i, name in enumerate(names):
        np.testing.assert_allclose(scores[i], served[name][0], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(detections[i], served[name][1], atol=1e-3, err_msg=name)


@pytest.mark.parametrize(("shape", "dtype", "message"), [
    ((1, SIZE, SIZE, 3), "FP32", r"(?i)data.?type"),
    ((1, 224, 224, 3), "UINT8", r"(?i)shape"),
    ((1, SIZE, SIZE), "UINT8", r"(?i)shape|dims"),
    ((NSFW_DETECTOR.max_batch_size + 1, SIZE, SIZE, 3), "UINT8", r"(?i)batch"),
])
def test_malformed_requests_get_a_clear_error_and_the_model_keeps_serving(
        client: Any, images: dict[str, np.ndarray], shape: tuple[int, ...], dtype: str,
        message: str) -> None:
    import tritonclient.grpc as grpcclient

    tensor = grpcclient.InferInput(NSFW_DETECTOR.input_name, list(shape), dtype)
    tensor.set_data_from_numpy(np.zeros(shape, np.float32 if dtype == "FP32" else np.uint8))
    with pytest.raises(InferenceServerException, match=message):
        client.infer(NSFW_DETECTOR.name, [tensor], client_timeout=30)
    assert client.is_model_ready(NSFW_DETECTOR.name)
    scores, _ = infer(client, images["astronaut"][None])
    assert scores.shape == (1, len(NSFW_DETECTOR.labels))


def test_an_unknown_input_name_is_refused_by_name(client: Any) -> None:
    import tritonclient.grpc as grpcclient

    tensor = grpcclient.InferInput("pixels", [1, SIZE, SIZE, 3], "UINT8")
    tensor.set_data_from_numpy(np.zeros((1, SIZE, SIZE, 3), np.uint8))
    with pytest.raises(InferenceServerException, match=r"pixels"):
        client.infer(NSFW_DETECTOR.name, [tensor], client_timeout=30)
