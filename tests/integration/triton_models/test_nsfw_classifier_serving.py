"""The served `nsfw_classifier` (cpu target in the real tritonserver) against NSFWClassifier,
and the licence notice of the opt-in detector when the pipeline is wired."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from consumer.models.specs import NSFW_CLASSIFIER, NSFW_DETECTOR
from consumer.settings import Settings
from consumer.wiring import build_pipeline
from tests.integration.conftest import RunningStack
from tests.unit.triton_models.opennsfw_samples import (
    PHOTOS,
    SIZE,
    fidelity_images,
    original,
    reference_classifier,
)

NSFW = NSFW_CLASSIFIER.labels.index("nsfw")
TOLERANCE = 1e-4
Served = dict[str, np.ndarray]


def infer(client: Any, images: np.ndarray) -> np.ndarray:
    import tritonclient.grpc as grpcclient

    tensor = grpcclient.InferInput(NSFW_CLASSIFIER.input_name, list(images.shape), "UINT8")
    tensor.set_data_from_numpy(images)
    result = client.infer(NSFW_CLASSIFIER.name, [tensor], client_timeout=60)
    return np.asarray(result.as_numpy(NSFW_CLASSIFIER.scores_output))


@pytest.fixture(scope="module")
def client(stack: RunningStack) -> Any:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(stack.addresses.triton_grpc)
    assert client.is_model_ready(NSFW_CLASSIFIER.name)
    return client


@pytest.fixture(scope="module")
def reference() -> Any:
    return reference_classifier()


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return fidelity_images()


@pytest.fixture(scope="module")
def served(client: Any, images: dict[str, np.ndarray]) -> Served:
    """Each image served alone (a batch of 1)."""
    return {name: infer(client, image[None])[0] for name, image in images.items()}


def test_served_config_is_the_spec(client: Any) -> None:
    config = client.get_model_config(NSFW_CLASSIFIER.name).config
    assert config.max_batch_size == NSFW_CLASSIFIER.max_batch_size
    assert [(i.name, tuple(i.dims)) for i in config.input] == [
        (NSFW_CLASSIFIER.input_name, NSFW_CLASSIFIER.input_dims)]
    assert {o.name: tuple(o.dims) for o in config.output} == NSFW_CLASSIFIER.output_dims()
    assert list(config.dynamic_batching.preferred_batch_size) == list(
        NSFW_CLASSIFIER.preferred_batch_sizes)


def test_served_nsfw_probability_matches_nsfwclassifier_within_1e4(
        reference: Any, images: dict[str, np.ndarray], served: Served) -> None:
    diffs = {name: abs(float(served[name][NSFW]) - reference.classify(image).nsfw)
             for name, image in images.items()}
    assert max(diffs.values()) <= TOLERANCE, diffs


def test_served_scores_on_the_clients_pixels_are_the_reference_on_the_original_photo(
        reference: Any, served: Served) -> None:
    for name in PHOTOS:
        want = reference.classify(original(name))
        np.testing.assert_allclose(served[name], [want.sfw, want.nsfw], atol=TOLERANCE,
                                   err_msg=name)


def test_a_batch_of_16_gives_each_image_what_it_gets_alone(
        client: Any, images: dict[str, np.ndarray], served: Served) -> None:
    names = list(images)[:NSFW_CLASSIFIER.max_batch_size]
    scores = infer(client, np.stack([images[n] for n in names]))
    for i, name in enumerate(names):
        np.testing.assert_allclose(scores[i], served[name], atol=1e-5, err_msg=name)


@pytest.mark.parametrize(("shape", "dtype", "message"), [
    ((1, SIZE, SIZE, 3), "FP32", r"(?i)data.?type"),
    ((1, 224, 224, 3), "UINT8", r"(?i)shape"),
    ((NSFW_CLASSIFIER.max_batch_size + 1, SIZE, SIZE, 3), "UINT8", r"(?i)batch"),
])
def test_malformed_requests_get_a_clear_error_and_the_model_keeps_serving(
        client: Any, images: dict[str, np.ndarray], shape: tuple[int, ...], dtype: str,
        message: str) -> None:
    import tritonclient.grpc as grpcclient

    tensor = grpcclient.InferInput(NSFW_CLASSIFIER.input_name, list(shape), dtype)
    tensor.set_data_from_numpy(np.zeros(shape, np.float32 if dtype == "FP32" else np.uint8))
    with pytest.raises(InferenceServerException, match=message):
        client.infer(NSFW_CLASSIFIER.name, [tensor], client_timeout=30)
    assert client.is_model_ready(NSFW_CLASSIFIER.name)
    assert infer(client, images["astronaut"][None]).shape == (1, len(NSFW_CLASSIFIER.labels))


@pytest.mark.parametrize(("models", "notices"), [
    ([NSFW_CLASSIFIER.name], 0),
    ([NSFW_CLASSIFIER.name, NSFW_DETECTOR.name], 1),
])
def test_wiring_the_pipeline_warns_once_when_the_agpl_detector_is_enabled(
        stack_settings: Settings, models: list[str], notices: int,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = stack_settings.model_copy(update={
        "pipeline": stack_settings.pipeline.model_copy(update={"models": models})})
    with caplog.at_level(logging.WARNING, logger="consumer.pipeline"), \
            contextlib.ExitStack() as resources:
        build_pipeline(settings, resources)
    agpl = [r for r in caplog.records if "AGPL-3.0" in r.getMessage()]
    assert len(agpl) == notices
    if agpl:
        assert agpl[0].getMessage().startswith(f"model {NSFW_DETECTOR.name} ")
