"""`vmc catalogue build`: a folder of recordings in, one catalogue file out, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.cli import main
from consumer.signals.music.catalogue import load_catalogue
from tests.unit.signals.music import sounds


def test_build_writes_a_catalogue_and_says_what_is_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "refs"
    folder.mkdir()
    sounds.write(folder / "one.wav", sounds.track(1, 10.0))
    sounds.write(folder / "two.m4a", sounds.track(2, 20.0))
    out = tmp_path / "catalogue.npz"
    assert main(["catalogue", "build", str(folder), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{out}: 2 tracks, 0.5 min of audio, {out.stat().st_size} bytes")
    assert [t.track_id for t in load_catalogue(str(out))] == ["one", "two"]


def test_a_folder_without_recordings_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    assert main(["catalogue", "build", str(tmp_path), "--out", str(tmp_path / "c.npz")]) == 1
    assert capsys.readouterr().err.strip() == \
        f"vmc: {tmp_path}: no file with a soundtrack to fingerprint"
    assert main(["catalogue", "build", str(tmp_path / "nope"), "--out", "c.npz"]) == 1
    assert "not a folder" in capsys.readouterr().err
