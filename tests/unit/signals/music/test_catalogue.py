"""Building a catalogue from a folder, and a file format that refuses what is not one."""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from pathlib import Path

import fsspec  # type: ignore[import-untyped]
import numpy as np
import pytest

from consumer.errors import CatalogueError, ConsumerError
from consumer.signals.music.catalogue import Track, build_catalogue, load_catalogue, save_catalogue
from tests.unit.blocking import bounded_in_time
from tests.unit.media.videos import make_video
from tests.unit.signals.music import sounds


def _tracks() -> list[Track]:
    rng = np.random.default_rng(0)
    return [Track(name, rng.integers(0, 2**32, size=size, dtype=np.uint64).astype(np.uint32))
            for name, size in (("b-side", 40), ("été", 0), ("a-side", 300))]


def _same(got: list[Track], expected: list[Track]) -> None:
    assert [t.track_id for t in got] == [t.track_id for t in expected]
    for a, b in zip(got, expected, strict=True):
        assert a.fingerprint.dtype == np.uint32
        np.testing.assert_array_equal(a.fingerprint, b.fingerprint)


def test_a_folder_becomes_sorted_tracks_and_what_has_no_sound_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    sounds.write(tmp_path / "zebra.wav", sounds.track(1, 6.0))
    sounds.write(tmp_path / "alpha.m4a", sounds.track(2, 6.0))
    sounds.write(tmp_path / "blip.wav", sounds.track(3, 1.0))
    make_video(tmp_path / "silent.mp4")
    (tmp_path / "notes.txt").write_text("not media")
    (tmp_path / "sub").mkdir()
    sounds.write(tmp_path / "sub" / "nested.wav", sounds.track(4, 6.0))
    with caplog.at_level(logging.WARNING, logger="consumer.signals.music"):
        tracks = build_catalogue(tmp_path)
    assert [t.track_id for t in tracks] == ["alpha", "zebra"]
    assert all(t.fingerprint.size > 20 for t in tracks)
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert "silent.mp4: no audio stream" in warned and "blip.wav: too short" in warned
    assert "notes.txt" not in warned


def test_two_files_with_one_stem_are_refused(tmp_path: Path) -> None:
    sounds.write(tmp_path / "song.wav", sounds.track(1, 4.0))
    sounds.write(tmp_path / "song.m4a", sounds.track(1, 4.0))
    with pytest.raises(CatalogueError, match="would both be track 'song'"):
        build_catalogue(tmp_path)


def test_a_saved_catalogue_loads_back_the_same_tracks(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.npz"
    save_catalogue(_tracks(), path)
    _same(load_catalogue(str(path)), _tracks())
    _same(load_catalogue(f"file://{path}"), _tracks())
    assert path.stat().st_size < 2000 + 4 * 340


def test_a_catalogue_on_an_object_store_loads_through_fsspec(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.npz"
    save_catalogue(_tracks(), path)
    fsspec.filesystem("memory").pipe("/music/catalogue.npz", path.read_bytes())
    try:
        _same(load_catalogue("memory://music/catalogue.npz"), _tracks())
    finally:
        fsspec.filesystem("memory").rm("/music/catalogue.npz")


def test_duplicate_ids_are_refused_when_saving(tmp_path: Path) -> None:
    tracks = _tracks()
    with pytest.raises(CatalogueError, match="not unique"):
        save_catalogue([*tracks, tracks[0]], tmp_path / "c.npz")


def _arrays(path: Path) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.mark.parametrize(("damage", "message"), [
    ("garbage", "cannot read a music catalogue"),
    ("foreign", "not a music catalogue"),
    ("version", "version 2 is not 1: rebuild it"),
    ("offsets", "offsets do not match"),
    ("types", "unexpected array types"),
    ("missing", "cannot read a music catalogue"),
])
def test_a_file_that_is_not_a_good_catalogue_fails_with_one_clear_line(
    tmp_path: Path, damage: str, message: str,
) -> None:
    good = tmp_path / "good.npz"
    save_catalogue(_tracks(), good)
    bad = tmp_path / "bad.npz"
    arrays = _arrays(good)
    if damage == "garbage":
        bad.write_bytes(np.random.default_rng(1).bytes(1000))
    elif damage == "foreign":
        np.savez(bad, weights=np.zeros(3))
    elif damage == "version":
        np.savez(bad, **{**arrays, "version": np.array([2])})
    elif damage == "offsets":
        np.savez(bad, **{**arrays, "offsets": arrays["offsets"] + 1})
    elif damage == "types":
        np.savez(bad, **{**arrays, "fingerprints": arrays["fingerprints"].astype(np.int64)})
    with pytest.raises(CatalogueError, match=message) as info:
        load_catalogue(str(bad))
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ConsumerError)


# --- bounded and fail-closed loading (issue 24) ---------------------------------------------

def test_a_compressed_archive_declaring_more_than_the_limit_is_refused_unread(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.npz"
    save_catalogue(_tracks(), good)
    arrays = {k: v for k, v in _arrays(good).items() if k != "fingerprints"}
    bomb = tmp_path / "bomb.npz"
    # 40 MB of zeros deflate to ~40 kB: the file is small, what it declares is not.
    np.savez_compressed(bomb, **arrays, fingerprints=np.zeros(10_000_000, "<u4"))
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(CatalogueError, match=r"declare \d+ bytes in all, over the limit of "
                                             "1000000"):
        load_catalogue(str(bomb), max_bytes=1_000_000)


def test_an_array_header_declaring_a_huge_shape_is_refused_before_allocation(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.npz"
    save_catalogue(_tracks(), good)
    crafted = tmp_path / "crafted.npz"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(crafted, "w") as out:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "fingerprints.npy":
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(  # type: ignore[no-untyped-call]
                    header, {"descr": "<u4", "fortran_order": False, "shape": (10**12,)})
                data = header.getvalue() + b"\0" * 64
            out.writestr(member.filename, data)
    with pytest.raises(CatalogueError, match=r"corrupt catalogue \(array fingerprints.npy "
                                             r"declares \(1000000000000,\)"):
        load_catalogue(str(crafted))


def test_a_catalogue_path_that_is_a_fifo_or_a_device_is_refused_without_blocking(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "catalogue.fifo"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        with pytest.raises(CatalogueError, match=f"^{path} is not a regular file$"):
            bounded_in_time(lambda p=path: load_catalogue(p))  # type: ignore[misc]
    big = tmp_path / "big.npz"
    save_catalogue(_tracks(), big)
    with pytest.raises(CatalogueError, match="larger than its limit of 100 bytes"):
        load_catalogue(str(big), max_bytes=100)


def test_an_empty_catalogue_loads_as_no_tracks(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    save_catalogue([], path)
    assert load_catalogue(str(path)) == []  # MusicCatalogues decides whether that is allowed


def test_vmc_scan_refuses_a_fifo_catalogue_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from consumer.cli import main

    fifo = tmp_path / "catalogue.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("VMC_SIGNALS__MUSIC__CATALOGUES",
                       json.dumps([{"name": "c", "path": str(fifo)}]))
    monkeypatch.setenv("VMC_DEV__STATE_DIR", str(tmp_path / "no-stack"))
    code = bounded_in_time(lambda: main(["scan", str(tmp_path / "video.mp4")]))
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [f"vmc: signals.music.catalogues 'c': cannot load {fifo}: "
                                f"{fifo} is not a regular file"]
