"""`vmc keyframes`: one line or JSON object per video, images with --out, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from consumer.cli import main
from tests.unit.media.videos import keyframe_times


def test_json_output_describes_the_video_and_its_keyframes(
    clip: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keyframes", str(clip), "--json", "--max", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    shown = json.loads(lines[0])
    assert shown["uri"] == str(clip)
    assert (shown["width"], shown["height"], shown["codec"]) == (64, 48, "h264")
    assert shown["duration_s"] == pytest.approx(2.0)
    times = [k["pts_s"] for k in shown["keyframes"]]
    assert 1 <= len(times) <= 3
    coverage = shown["coverage"]
    assert coverage["complete"] is True and coverage["stopped_by"] is None
    assert coverage["analysed_s"] == [round(t, 3) for t in times]
    assert coverage["largest_gap_s"] <= coverage["max_gap_s"] == pytest.approx(1.5)  # 2 x 1 s


def test_a_one_keyframe_upload_is_shown_over_its_whole_length(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.unit.media.videos import make_video

    path = make_video(tmp_path / "one.mp4", frames=100, rate=10, gop=1000)
    assert keyframe_times(path) == [0.0]
    assert main(["keyframes", str(path), "--json", "--max", "5"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["keyframes"]) == 5 and shown["keyframes"][-1]["pts_s"] > 8.0
    assert shown["coverage"]["complete"] is True


def test_out_writes_one_image_per_keyframe_at_the_requested_size(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "frames"
    assert main(["keyframes", str(clip), "--size", "40", "--mode", "stretch",
                 "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{clip}: mp4/h264 64x48")
    images = sorted(out.rglob("*.png"))
    assert images
    with av.open(str(images[0])) as image:
        frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (40, 40)


def test_a_bad_input_exits_1_with_one_line_naming_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "page.mp4"
    bad.write_text("<html>hello</html>")
    assert main(["keyframes", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("vmc: ") and "unsupported_container" in err
    assert "Traceback" not in err


def test_one_bad_input_among_several_still_prints_the_good_ones(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "missing.mp4"
    assert main(["keyframes", str(clip), str(missing), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["uri"] == str(clip)
    assert "source_unreachable" in captured.err and "1 of 2 inputs failed" in captured.err


def test_a_url_to_an_internal_address_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keyframes", "http://169.254.169.254/latest/meta-data/"]) == 1
    assert "source_refused" in capsys.readouterr().err
