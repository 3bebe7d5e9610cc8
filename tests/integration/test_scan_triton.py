"""`vmc scan --triton` scores like the in-process ONNX: one model, two runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from skimage import data

from consumer.cli import main
from devstack.samples import make_still_video
from tests.integration.conftest import RunningStack


def test_scan_through_triton_matches_in_process_scores(
    stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = make_still_video(tmp_path / "astronaut.mp4", data.astronaut())
    assert main(["scan", str(video)]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["scan", str(video), "--triton", stack.addresses.triton_grpc]) == 0
    served = json.loads(capsys.readouterr().out)
    assert served["verdict"] == local["verdict"]
    assert served["scores"].keys() == local["scores"].keys()
    for category, score in local["scores"].items():
        assert served["scores"][category] == pytest.approx(score, abs=1e-4)


def test_scan_through_triton_gives_the_in_process_visual_tags_and_embedding(
    stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consumer.signals.visual.embedding import cosine, decode

    video = make_still_video(tmp_path / "cat.mp4", data.chelsea()[:, :450])
    monkeypatch.setenv("VMC_PIPELINE__MODELS", json.dumps(["visual_tagger"]))
    runs = []
    for triton in ([], ["--triton", stack.addresses.triton_grpc]):
        assert main(["scan", str(video), "--tags", "--records", *triton]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    local, served = runs
    assert served["models"] == local["models"] == {"visual_tagger": "1"}
    top = [[(x["label"], x["share"]) for x in r["tags"]["visual"]["labels"][:3]] for r in runs]
    assert top[0] == top[1] and top[0][0][0] in {"tabby", "tiger cat", "Egyptian cat"}
    for ours, theirs in zip(local["tags"]["visual"]["labels"], served["tags"]["visual"]["labels"],
                            strict=False):
        assert theirs["peak"] == pytest.approx(ours["peak"], abs=1e-3)
    (a,), (b,) = (r["records"].values() for r in runs)
    assert cosine(decode(a["vector"]), decode(b["vector"])) > 0.999
