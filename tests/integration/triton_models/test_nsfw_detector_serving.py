"""The served `nsfw_detector` (cpu target in the real tritonserver) against NudeDetector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from skimage import data
from tritonclient.utils import InferenceServerException

from tests.integration.conftest import RunningStack
from triton_models.specs import NSFW_DETECTOR

SIZE = NSFW_DETECTOR.input_size
SCORE_TOLERANCE = 0.02
REPORTED = 0.5
Served = dict[str, tuple[np.ndarray, np.ndarray]]
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "colorwheel", "immunohistochemistry",
          "hubble_deep_field", "camera")


def pad_resize(image: np.ndarray) -> np.ndarray:
    """NudeDetector's own preprocessing: pad bottom/right to a square, resize to 320."""
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    height, width = image.shape[:2]
    side = max(height, width)
    square = cv2.copyMakeBorder(image, 0, side - height, 0, side - width, cv2.BORDER_CONSTANT)
    return cv2.resize(square, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)


def generated_frames() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    ramp = np.linspace(0, 255, SIZE, dtype=np.float32)
    gradient = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (SIZE, 1)),
                         np.tile(ramp[:, None], (1, SIZE))], axis=-1).astype(np.uint8)
    noise = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    collage = noise.copy()
    collage[100:260, 140:300] = cv2.resize(data.astronaut(), (160, 160))
    return {"frame-gradient": gradient, "frame-noise": noise, "frame-black": np.zeros_like(noise),
            "frame-astronaut-on-noise": collage,
            "frame-astronaut-mirrored": pad_resize(data.astronaut())[:, ::-1].copy()}


def fidelity_images() -> dict[str, np.ndarray]:
    """Real photos shipped by scikit-image plus generated frames, all 320x320 RGB uint8."""
    photos = {name: pad_resize(getattr(data, name)()) for name in PHOTOS}
    return {**photos, **generated_frames()}


def reference(detector: Any, image: np.ndarray,
              workdir: Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """NudeDetector on the same pixels, read from a file as its users do (cv2, BGR): its
    per-class max over anchors (its own preprocessing and session) and its detections."""
    from nudenet import nudenet

    path = workdir / "frame.png"
    cv2.imwrite(str(path), image[..., ::-1])
    blob = nudenet._read_image(str(path), SIZE)[0]
    (raw,) = detector.onnx_session.run(None, {detector.input_name: blob})
    return raw[0, 4:, :].max(axis=1), detector.detect(str(path))


def infer(client: Any, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tritonclient.grpc as grpcclient

    tensor = grpcclient.InferInput(NSFW_DETECTOR.input_name, list(images.shape), "UINT8")
    tensor.set_data_from_numpy(images)
    assert NSFW_DETECTOR.detections_output is not None
    result = client.infer(NSFW_DETECTOR.name, [tensor], client_timeout=60)
    return (result.as_numpy(NSFW_DETECTOR.scores_output),
            result.as_numpy(NSFW_DETECTOR.detections_output))


def iou(a: list[float], b: list[float]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.fixture(scope="module")
def client(stack: RunningStack) -> Any:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(stack.addresses.triton_grpc)
    assert client.is_model_ready(NSFW_DETECTOR.name)
    return client


@pytest.fixture(scope="module")
def detector() -> Any:
    from nudenet import NudeDetector

    return NudeDetector()


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


def test_served_scores_match_nudedetector_within_002_per_class(
        detector: Any, images: dict[str, np.ndarray], served: Served,
        tmp_path: Path) -> None:
    diffs = {}
    for name, image in images.items():
        expected, _ = reference(detector, image, tmp_path)
        diffs[name] = float(np.abs(served[name][0] - expected).max())
    assert max(diffs.values()) <= SCORE_TOLERANCE, diffs


def test_served_detections_above_05_are_nudedetectors(
        detector: Any, images: dict[str, np.ndarray], served: Served,
        tmp_path: Path) -> None:
    compared = 0
    for name, image in images.items():
        _, expected = reference(detector, image, tmp_path)
        want = [d for d in expected if d["score"] > REPORTED]
        got = [row for row in served[name][1] if row[4] > REPORTED]
        assert [d["class"] for d in want] == [NSFW_DETECTOR.labels[int(r[5])] for r in got], name
        for ref, row in zip(want, got, strict=True):
            assert abs(ref["score"] - float(row[4])) <= SCORE_TOLERANCE, name
            x, y, w, h = ref["box"]
            assert iou([x, y, x + w, y + h], row[:4].tolist()) >= 0.9, (name, ref, row)
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
