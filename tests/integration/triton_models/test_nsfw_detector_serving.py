"""The served `nsfw_detector` (cpu target in the real tritonserver) against the raw `320n.onnx`
fed what YOLOv8 was trained on (RGB), not against NudeDetector's BGR reading of image files."""

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
SCORE_TOLERANCE = 1e-4
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


def raw_scores(image: np.ndarray) -> np.ndarray:
    """The raw `320n.onnx` in onnxruntime on correctly padded RGB (float NCHW, 0..1): its
    per-class max over anchors."""
    return blob_scores(image[None].astype(np.float32).transpose(0, 3, 1, 2) * np.float32(1 / 255))


def blob_scores(blob: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    from triton_models.nudenet_wrap import nudenet_onnx_path

    session = ort.InferenceSession(str(nudenet_onnx_path()), providers=["CPUExecutionProvider"])
    (raw,) = session.run(None, {"images": blob})
    return np.asarray(raw[0, 4:, :].max(axis=1))


def reference(detector: Any, image: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The raw model on RGB, and NudeDetector's post-processing of it: handed an array,
    NudeDetector passes its channels through unchanged (its two swaps cancel)."""
    return raw_scores(image), detector.detect(image.copy())


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


def test_served_scores_match_the_raw_model_on_rgb_within_1e4_per_class(
        images: dict[str, np.ndarray], served: Served) -> None:
    diffs = {name: float(np.abs(served[name][0] - raw_scores(image)).max())
             for name, image in images.items()}
    assert max(diffs.values()) <= SCORE_TOLERANCE, diffs


def test_the_served_model_is_not_nudedetectors_bgr_reading_of_image_files(
        images: dict[str, np.ndarray], served: Served, tmp_path: Path) -> None:
    """NudeDetector on a file (cv2, BGR) feeds the network BGR (NudeNet issue #203)."""
    from nudenet import nudenet

    path = tmp_path / "frame.png"
    diffs = {}
    for name in PHOTOS:
        cv2.imwrite(str(path), images[name][..., ::-1])
        bgr = blob_scores(nudenet._read_image(str(path), SIZE)[0])
        diffs[name] = float(np.abs(served[name][0] - bgr).max())
    assert max(diffs.values()) > 0.1, diffs


def test_served_detections_above_05_are_the_raw_models_on_rgb(
        detector: Any, images: dict[str, np.ndarray], served: Served) -> None:
    compared = 0
    for name, image in images.items():
        _, expected = reference(detector, image)
        want = [d for d in expected if d["score"] > REPORTED]
        got = [row for row in served[name][1] if row[4] > REPORTED]
        assert [d["class"] for d in want] == [NSFW_DETECTOR.labels[int(r[5])] for r in got], name
        for ref, row in zip(want, got, strict=True):
            assert abs(ref["score"] - float(row[4])) <= 1e-4, name
            x, y, w, h = ref["box"]  # NudeDetector truncates to whole pixels
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
