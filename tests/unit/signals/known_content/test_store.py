"""Hash lists from files and fsspec URIs: loaded at start (or the start fails), reloaded when
the file changes, and a list that breaks keeps its previous version."""

from __future__ import annotations

import os
from pathlib import Path

import fsspec
import numpy as np
import pytest
from pydantic import ValidationError

from consumer import data_files
from consumer.errors import ConfigError
from consumer.media.frame_hash import FrameHash
from consumer.signals.known_content.settings import HashListRule
from consumer.signals.known_content.store import HashListStore
from tests.unit.blocking import bounded_in_time
from tests.unit.signals.known_content.banks import closest

A, B = "a" * 64, "b" * 64


def _touch(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime, however fast


def _hashes(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(row).hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def test_a_changed_list_is_reloaded_and_a_broken_one_keeps_the_previous(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    _touch(path, A + "\n", 1)
    errors: list[str] = []
    loaded: list[tuple[str, int]] = []
    store = HashListStore([HashListRule(name="l", path=str(path), action="block")],
                          reload_s=60, on_error=lambda name, reason: errors.append(name),
                          on_loaded=lambda n, size: loaded.append((n, size)))
    assert [m.list_name for m in closest(store, [FrameHash(A, 100)], [0.0])] == ["l"]
    _touch(path, f"{A}\n{B}\n", 2)
    store.refresh()
    assert closest(store, [FrameHash(B, 100)], [0.0]) and loaded == [("l", 1), ("l", 2)]
    _touch(path, "not a hash\n", 3)
    store.refresh()
    assert errors == ["l"], "counted once"
    assert closest(store, [FrameHash(B, 100)], [0.0]), "the previous version is still served"
    store.refresh()
    assert errors == ["l"], "an unchanged broken file is not reported again"
    _touch(path, B + "\n", 4)
    store.refresh()
    assert not closest(store, [FrameHash(A, 100)], [0.0]) and closest(store, [FrameHash(B, 100)],
                                                                         [0.0])


def test_a_list_that_cannot_be_read_at_start_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"known_content\.lists\[gone\]"):
        HashListStore([HashListRule(name="gone", path=str(tmp_path / "none.txt"))], reload_s=1)
    (tmp_path / "bad.txt").write_text("zz\n")
    with pytest.raises(ConfigError, match="line 1"):
        HashListStore([HashListRule(name="bad", path=str(tmp_path / "bad.txt"))], reload_s=1)


def test_lists_load_from_fsspec_uris_and_reload_from_the_watcher_thread() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/lists/known.csv", f"hash,label\n{A},x\n".encode())
    store = HashListStore([HashListRule(name="m", path="memory:///lists/known.csv")],
                          reload_s=0.05)
    assert closest(store, [FrameHash(A, 100)], [1.0])[0].label == "x"
    store.start()
    try:
        fs.pipe("/lists/known.csv", f"hash,label\n{B},y\n".encode())
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not closest(store, [FrameHash(B, 100)], [0.0]):
            time.sleep(0.05)
        assert closest(store, [FrameHash(B, 100)], [0.0])[0].label == "y"
    finally:
        store.close()


def _store(path: Path | str, errors: list[tuple[str, str]] | None = None,
           **rule: object) -> HashListStore:
    return HashListStore([HashListRule(name="l", path=str(path), action="block",
                                       **rule)],  # type: ignore[arg-type]
                         reload_s=60, min_keep_ratio=0.5,
                         on_error=lambda name, reason: (errors if errors is not None
                                                        else []).append((name, reason)))


def _blocks(store: HashListStore, pdq: str) -> bool:
    return bool(closest(store, [FrameHash(pdq, 100)], [0.0]))


def test_a_bom_from_a_spreadsheet_export_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbfhash,label\r\n" + f"{A},case 1\r\n{B}\r\n".encode())
    store = _store(path)
    assert [m.label for m in closest(store, [FrameHash(A, 100)], [0.0])] == ["case 1"]
    assert len(store.lists[0].index) == 2


def test_an_empty_list_stops_the_start_unless_declared_allowed(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("hash,label\n# nothing yet\n")
    with pytest.raises(ConfigError, match=r"known_content\.lists\[l\].*no hash.*allow_empty"):
        _store(path)
    assert len(_store(path, allow_empty=True).lists[0].index) == 0


def test_a_list_emptied_or_truncated_mid_run_is_refused_and_the_previous_kept(
        tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    full = _hashes(100)
    _touch(path, "".join(f"{h}\n" for h in full), 1)
    errors: list[tuple[str, str]] = []
    store = _store(path, errors)
    for tick, text, reason in ((2, "", "empty"), (3, "hash,label\n", "empty"),
                               (4, "".join(f"{h}\n" for h in full[:30]), "shrunk")):
        _touch(path, text, tick)
        store.refresh()
        assert errors[-1] == ("l", reason)
        assert _blocks(store, full[99]), "the previous version is still served"
    store.refresh()
    assert len(errors) == 3, "a refused version is counted once"
    _touch(path, "".join(f"{h}\n" for h in full[:60]), 5)  # above half: a real update
    store.refresh()
    assert len(errors) == 3 and not _blocks(store, full[99]) and _blocks(store, full[0])


def test_a_half_written_list_is_invalid_at_start_and_refused_at_reload(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    full = _hashes(10)
    text = "".join(f"{h},case {i}\n" for i, h in enumerate(full))
    for partial in (text[:-1], text[:-40], text[:-70] + "\n"):  # no newline; cut hash; cut+\n
        path.write_text(partial)
        with pytest.raises(ConfigError, match=r"newline|not a PDQ hash"):
            _store(path)
    _touch(path, text, 1)
    errors: list[tuple[str, str]] = []
    store = _store(path, errors)
    _touch(path, text[:len(text) // 2 + 10], 2)  # 5 lines and a half
    store.refresh()
    assert errors == [("l", "invalid")] and _blocks(store, full[9])


def test_a_list_rewritten_while_read_is_retried_then_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "list.txt"
    _touch(path, f"{A}\n{B}\n", 1)
    errors: list[tuple[str, str]] = []
    store = _store(path, errors)
    reads: list[int] = []
    real = data_files._read_local

    def changing(p: str, limit: int) -> tuple[memoryview, tuple[str, ...], tuple[str, ...]]:
        data, before, _ = real(p, limit)
        reads.append(1)
        return data[:70], before, ("changed",)  # what a writer caught mid-write leaves

    monkeypatch.setattr(data_files, "_read_local", changing)
    monkeypatch.setattr(data_files, "RETRY_PAUSE_S", 0)
    _touch(path, f"{B}\n{A}\n", 2)
    store.refresh()
    assert errors == [("l", "changing")] and len(reads) == data_files.READ_ATTEMPTS
    store.refresh()
    assert errors[-1] == ("l", "changing"), "not remembered: tried again at the next check"
    monkeypatch.setattr(data_files, "_read_local", real)
    store.refresh()
    assert len(errors) == 2 and len(store.lists[0].index) == 2


def test_a_fifo_list_is_refused_at_start_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "list.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=rf"^signals.known_content.lists\[l\]: {fifo} is not "
                                          "a regular file$"):
        bounded_in_time(lambda: _store(fifo))


def test_a_fifo_swapped_in_at_reload_is_counted_and_a_later_version_loads(
        tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    _touch(path, f"{A}\n", 1)
    errors: list[tuple[str, str]] = []
    store = _store(path, errors)
    path.unlink()
    os.mkfifo(path)
    bounded_in_time(store.refresh)
    assert errors == [("l", "not_regular_file")] and _blocks(store, A)
    path.unlink()
    _touch(path, f"{A}\n{B}\n", 2)
    store.refresh()
    assert errors == [("l", "not_regular_file")] and _blocks(store, B)


def test_a_device_or_an_oversized_file_is_refused_by_the_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="/dev/zero is not a regular file"):
        bounded_in_time(lambda: _store("/dev/zero"))
    path = tmp_path / "big.txt"
    path.write_text("".join(f"{h}\n" for h in _hashes(20)))
    with pytest.raises(ConfigError, match="larger than its limit of 1000 bytes"):
        _store(path, max_bytes=1000)
    errors: list[tuple[str, str]] = []
    store = _store(path, errors, max_bytes=2000)
    _touch(path, "".join(f"{h}\n" for h in _hashes(40)), 3)
    store.refresh()
    assert errors == [("l", "too_large")] and len(store.lists[0].index) == 20
    path.unlink()
    path.symlink_to("/dev/zero")  # read until memory ran out, before
    bounded_in_time(store.refresh)
    assert errors[-1] == ("l", "not_regular_file") and len(store.lists[0].index) == 20


def test_vmc_scan_refuses_a_fifo_hash_list_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from consumer.cli import main

    fifo = tmp_path / "list.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("VMC_SIGNALS__KNOWN_CONTENT__LISTS",
                       json.dumps([{"name": "l", "path": str(fifo)}]))
    monkeypatch.setenv("VMC_DEV__STATE_DIR", str(tmp_path / "no-stack"))
    assert bounded_in_time(lambda: main(["scan", str(tmp_path / "video.mp4")])) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"vmc: signals.known_content.lists[l]: {fifo} is not a regular file"]


def test_an_object_store_list_is_bounded_too() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/lists/big.csv", "".join(f"{h}\n" for h in _hashes(20)).encode())
    with pytest.raises(ConfigError, match="larger than its limit"):
        _store("memory:///lists/big.csv", max_bytes=100)


def test_max_distance_is_bounded_so_matching_stays_indexed() -> None:
    assert HashListRule(name="l", path="x", max_distance=47).max_distance == 47
    with pytest.raises(ValidationError, match=r"max_distance 48 is above 47: matching stays"):
        HashListRule(name="l", path="x", max_distance=48)
