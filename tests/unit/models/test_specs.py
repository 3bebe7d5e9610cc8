from __future__ import annotations

import subprocess
import sys

import pytest

from consumer.models.specs import (
    NSFW_DETECTOR,
    SPECS,
    ModelSpec,
    classifier_spec,
    get_spec,
)


def test_nsfw_detector_declares_the_uint8_nhwc_320_contract() -> None:
    spec = get_spec("nsfw_detector")
    assert spec is NSFW_DETECTOR
    assert (spec.input_name, spec.input_dims, spec.resize_mode) == ("images", (320, 320, 3), "pad")
    assert spec.output_dims() == {"scores": (18,), "detections": (32, 6)}


def test_nsfw_detector_labels_are_nudenets_in_output_order() -> None:
    from nudenet import nudenet

    assert NSFW_DETECTOR.labels == tuple(getattr(nudenet, "__labels"))


def test_categories_name_only_known_labels_and_policy_categories() -> None:
    for spec in SPECS.values():
        assert set(spec.categories) <= set(spec.labels)
        assert set(spec.categories.values()) <= {"nudity", "sexual", "suggestive", "face",
                                                   "nsfw", "weapon"}
    assert NSFW_DETECTOR.categories["FEMALE_GENITALIA_EXPOSED"] == "sexual"
    assert NSFW_DETECTOR.categories["FACE_MALE"] == "face"
    assert "FEET_EXPOSED" not in NSFW_DETECTOR.categories


def test_get_spec_names_the_known_models_when_asked_for_an_unknown_one() -> None:
    with pytest.raises(KeyError, match="nsfw_detector"):
        get_spec("no_such_model")


def test_spec_rejects_categories_for_labels_it_does_not_have() -> None:
    with pytest.raises(ValueError, match="unknown labels"):
        ModelSpec(name="m", version="1", input_name="images", input_size=8, resize_mode="pad",
                  scores_output="scores", labels=("a",), categories={"b": "nudity"},
                  max_batch_size=4)


def test_classifier_spec_has_scores_only_and_batch_sizes_within_its_max() -> None:
    spec = classifier_spec("tags", ("cat", "dog"), input_size=224, max_batch_size=16)
    assert spec.output_dims() == {"scores": (2,)}
    assert spec.resize_mode == "stretch"
    assert max(spec.preferred_batch_sizes) <= 16


def test_specs_import_without_torch_onnx_or_onnxruntime() -> None:
    code = ("import sys, consumer.models.specs; "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
