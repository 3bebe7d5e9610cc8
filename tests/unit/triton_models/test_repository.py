from __future__ import annotations

from pathlib import Path

import pytest

from consumer.models.specs import NSFW_DETECTOR
from triton_models import nudenet_wrap
from triton_models.configs import TARGETS, Target, parse_config
from triton_models.repository import DEV_ACCEPTED_LICENCES, DEV_MODELS, write_repository

AGPL = ("AGPL-3.0",)  # nsfw_detector is built only when its licence is accepted
_FILES: dict[Target, set[str]] = {
    "cpu": {"config.pbtxt", "labels.txt", "1", "1/model.py", "1/model.onnx"},
    "onnxruntime": {"config.pbtxt", "labels.txt", "1", "1/model.onnx"},
    "gpu": {"config.pbtxt", "labels.txt", "1", "model.onnx"},
}


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("target", TARGETS)
def test_build_writes_the_triton_layout_for_each_target(tmp_path: Path, target: Target) -> None:
    repo = write_repository(tmp_path / "repo", target=target, cache_dir=tmp_path / "cache",
                            models=(NSFW_DETECTOR.name,), accept_licences=AGPL)
    model_dir = repo / NSFW_DETECTOR.name
    assert _tree(model_dir) == _FILES[target]
    assert parse_config((model_dir / "config.pbtxt").read_text()).name == model_dir.name
    assert tuple((model_dir / "labels.txt").read_text().splitlines()) == NSFW_DETECTOR.labels


def test_dev_repository_serves_the_smoke_model_beside_the_detector(tmp_path: Path) -> None:
    repo = write_repository(tmp_path / "repo", cache_dir=tmp_path / "cache", models=DEV_MODELS,
                            accept_licences=DEV_ACCEPTED_LICENCES)
    assert {p.name for p in repo.iterdir()} == {"smoke", "nsfw_classifier", "nsfw_detector",
                                                "ocr", "ocr_det", "ocr_cls", "ocr_rec",
                                                "visual_tagger"}
    assert (repo / "smoke" / "1" / "model.py").exists()


def test_wrapped_onnx_is_built_once_and_then_served_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real_wrap = nudenet_wrap.wrap_nudenet

    def counting_wrap(source: Path, out: Path, spec: object = NSFW_DETECTOR) -> Path:
        calls.append(out)
        return real_wrap(source, out)

    monkeypatch.setattr(nudenet_wrap, "wrap_nudenet", counting_wrap)
    for _ in range(2):
        write_repository(tmp_path / "repo", cache_dir=tmp_path / "cache",
                         models=(NSFW_DETECTOR.name,), accept_licences=AGPL)
    assert len(calls) == 1
    assert calls[0].parent == tmp_path / "cache" / "models"


def test_rebuilding_replaces_a_model_folder_but_leaves_other_models(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "other" / "1").mkdir(parents=True)
    (repo / NSFW_DETECTOR.name / "9").mkdir(parents=True)
    write_repository(repo, cache_dir=tmp_path / "cache", models=(NSFW_DETECTOR.name,),
                     accept_licences=AGPL)
    assert (repo / "other" / "1").is_dir()
    assert not (repo / NSFW_DETECTOR.name / "9").exists()
