"""A build refuses a model whose licence was not accepted; `list` prints the README's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.models.specs import (
    NSFW_CLASSIFIER,
    NSFW_DETECTOR,
    SPECS,
    VISUAL_TAGGER,
)
from triton_models.__main__ import main
from triton_models.licences import (
    LicenceNotAccepted,
    model_table,
    require_accepted,
    unaccepted,
)
from triton_models.ocr import OCR_MODELS
from triton_models.repository import write_repository

README = Path(__file__).resolve().parents[3] / "README.md"


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
    assert {p.name for p in (tmp_path / "repo").iterdir()} == {NSFW_CLASSIFIER.name, *OCR_MODELS,
                                                           VISUAL_TAGGER.name}


def test_list_prints_the_model_table_of_the_readme(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == model_table()
    assert printed in README.read_text(), "README's Models table differs from `list`"
    rows = [r for r in printed.splitlines()[2:] if r.startswith("| `")]
    assert len(rows) == len(SPECS)
    assert f"- `{VISUAL_TAGGER.name}`: trained on ImageNet-1k, whose images are licensed for " \
        "non-commercial research only" in printed
    detector = next(r for r in rows if r.startswith(f"| `{NSFW_DETECTOR.name}`"))
    assert "AGPL-3.0 (wheel metadata says MIT)" in detector
    assert "off (opt-in" in detector
    classifier = next(r for r in rows if r.startswith(f"| `{NSFW_CLASSIFIER.name}`"))
    assert "| Apache-2.0 | BSD-2-Clause |" in classifier
    assert classifier.endswith("| on |")
