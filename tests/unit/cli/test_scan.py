"""`vmc scan` end to end on this machine: real decode, the real ONNX in onnxruntime, policy."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from consumer.cli import main
from devstack.samples import make_still_video, make_video


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_still_video(tmp_path_factory.mktemp("scan") / "astronaut.mp4", data.astronaut())


def _scan(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:  # type: ignore[type-arg]
    assert main(["--log-format", "text", "scan", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_scan_tags_a_real_photo_safe_and_allows_the_video(
    astronaut_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (record,) = _scan(capsys, str(astronaut_video), "--tags")
    assert record["video_id"] == "astronaut"
    assert record["verdict"] == "allow"
    assert record["scores"]["nsfw"] < 0.2
    labels = {tag["label"]: tag for tag in record["tags"]["labels"]}
    assert labels["sfw"]["coverage"] == 1.0
    assert record["tags"]["technical"]["static"] is True
    assert record["keyframes_analyzed"] >= 1


def test_scan_gives_each_input_a_verdict_even_when_unprocessable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_video(tmp_path / "good.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 4096)
    records = _scan(capsys, str(good), str(garbage), str(tmp_path / "missing.mp4"))
    assert [r["verdict"] for r in records] == ["allow", "unprocessable", "unprocessable"]
    assert records[1]["reasons"][0]["category"] == "unsupported_container"
    assert records[2]["reasons"][0]["category"] == "source_unreachable"
    assert len({r["verdict_id"] for r in records}) == 3


def test_a_stricter_policy_from_the_environment_changes_the_verdict(
    astronaut_video: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMC_SIGNALS__SCORES__CATEGORIES", json.dumps({"nsfw": {"review": 0.001}}))
    monkeypatch.setenv("VMC_POLICY__VERSION", "strict-review")
    (record,) = _scan(capsys, str(astronaut_video))
    assert record["verdict"] == "review"
    assert record["reasons"][0]["category"] == "nsfw"
    assert record["reasons"][0]["threshold"] == 0.001
    assert record["policy_version"] == "strict-review"


def test_scan_runs_every_signal_known_content_and_on_screen_text(
    astronaut_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consumer.media.frame_hash import pdq_hash
    from tests.unit.triton_models.ocr_samples import scenes

    known = tmp_path / "known.csv"
    known.write_text(f"hash,label\n{pdq_hash(data.astronaut()).pdq},case-3\n")
    caption = make_still_video(tmp_path / "caption.mp4", scenes()["caption"][0][::2, ::2])
    monkeypatch.setenv("VMC_PIPELINE__MODELS", json.dumps(["nsfw_classifier", "ocr"]))
    monkeypatch.setenv("VMC_SAMPLING__MAX_KEYFRAMES", "2")
    monkeypatch.setenv("VMC_SIGNALS__KNOWN_CONTENT__LISTS", json.dumps(
        [{"name": "cases", "path": str(known), "action": "block"}]))
    monkeypatch.setenv("VMC_SIGNALS__TEXT__RULES", json.dumps(
        [{"name": "urls", "pattern": r"www\.\S+", "action": "review"}]))
    copy, text = _scan(capsys, str(astronaut_video), str(caption), "--tags")
    assert copy["verdict"] == "block"
    assert [(r["category"], r["hash_list"], r["detail"]) for r in copy["reasons"]] == [
        ("known_content_match", "cases", "case-3")]
    assert all(len(f["pdq"]) == 64 for f in copy["tags"]["frames"])
    assert text["verdict"] == "review"
    assert [(r["category"], r["rule"]) for r in text["reasons"]] == [("text_rule", "urls")]
    assert [t["text"] for t in text["tags"]["text"]] == ["Visit www.example.com today"]
    assert copy["tags"]["text"] == [] and text["models"]["ocr"] == "1"


def test_scan_without_the_build_tooling_says_in_one_line_to_use_a_checkout_or_triton(
    astronaut_video: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime image has no triton_models/: in-process scoring refuses, it does not crash."""
    for name in [m for m in sys.modules if m.partition(".")[0] == "triton_models"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "triton_models", None)
    assert main(["--log-format", "text", "scan", str(astronaut_video)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "source checkout" in line and "--triton URL" in line
    assert "Traceback" not in captured.err


def test_scan_tags_what_is_in_the_picture_and_gives_each_video_its_embedding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consumer.signals.visual.embedding import cosine, decode

    cat = data.chelsea()[:, :450]  # even sizes for H.264
    videos = [make_still_video(tmp_path / "cat.mp4", cat),
              make_still_video(tmp_path / "cat-crop.mp4", cat[30:, 44:]),
              make_still_video(tmp_path / "coffee.mp4", data.coffee())]
    monkeypatch.setenv("VMC_PIPELINE__MODELS", json.dumps(["nsfw_classifier", "visual_tagger"]))
    monkeypatch.setenv("VMC_SAMPLING__MAX_KEYFRAMES", "2")
    records = _scan(capsys, *map(str, videos), "--tags", "--records")
    vectors = []
    for record in records:
        (embedding,) = record["records"].values()
        assert list(record["records"]) == ["video.content.embeddings"]
        assert embedding["video_id"] == record["video_id"] and embedding["dims"] == 1280
        assert embedding["model"] == "visual_tagger" and embedding["dtype"] == "float16"
        vectors.append(decode(embedding["vector"]))
        assert abs(float(np.linalg.norm(vectors[-1])) - 1) < 1e-2
        assert record["verdict"] == "allow" and record["models"]["visual_tagger"] == "1"
    visual = records[0]["tags"]["visual"]
    assert visual["labels"][0]["label"] in {"tabby", "tiger cat", "Egyptian cat"}
    assert "animal" in [word["label"] for word in visual["coarse"]]
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.2
    # Without --records, the verdict line is as before.
    (plain,) = _scan(capsys, str(videos[0]))
    assert "records" not in plain
