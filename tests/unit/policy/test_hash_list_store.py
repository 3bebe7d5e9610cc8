"""Hash lists from files and fsspec URIs: loaded at start (or the start fails), reloaded when
the file changes, and a list that breaks keeps its previous version."""

from __future__ import annotations

import os
from pathlib import Path

import fsspec
import pytest

from consumer.media.frame_hash import FrameHash
from consumer.policy.hash_list_store import HashListStore
from consumer.settings import ConfigError, HashListRule

A, B = "a" * 64, "b" * 64


def _touch(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime, however fast


def test_a_changed_list_is_reloaded_and_a_broken_one_keeps_the_previous(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    _touch(path, A + "\n", 1)
    errors: list[str] = []
    loaded: list[tuple[str, int]] = []
    store = HashListStore([HashListRule(name="l", path=str(path), action="block")],
                          reload_s=60, on_error=errors.append,
                          on_loaded=lambda n, size: loaded.append((n, size)))
    assert [m.list_name for m in store.match([FrameHash(A, 100)], [0.0])] == ["l"]
    _touch(path, f"{A}\n{B}\n", 2)
    store.refresh()
    assert store.match([FrameHash(B, 100)], [0.0]) and loaded == [("l", 1), ("l", 2)]
    _touch(path, "not a hash\n", 3)
    store.refresh()
    assert errors == ["l"], "counted once"
    assert store.match([FrameHash(B, 100)], [0.0]), "the previous version is still served"
    store.refresh()
    assert errors == ["l"], "an unchanged broken file is not reported again"
    _touch(path, B + "\n", 4)
    store.refresh()
    assert not store.match([FrameHash(A, 100)], [0.0]) and store.match([FrameHash(B, 100)],
                                                                         [0.0])


def test_a_list_that_cannot_be_read_at_start_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hash_lists\[gone\]"):
        HashListStore([HashListRule(name="gone", path=str(tmp_path / "none.txt"))], reload_s=1)
    (tmp_path / "bad.txt").write_text("zz\n")
    with pytest.raises(ConfigError, match="line 1"):
        HashListStore([HashListRule(name="bad", path=str(tmp_path / "bad.txt"))], reload_s=1)


def test_lists_load_from_fsspec_uris_and_reload_from_the_watcher_thread() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/lists/known.csv", f"hash,label\n{A},x\n".encode())
    store = HashListStore([HashListRule(name="m", path="memory:///lists/known.csv")],
                          reload_s=0.05)
    assert store.match([FrameHash(A, 100)], [1.0])[0].label == "x"
    store.start()
    try:
        fs.pipe("/lists/known.csv", f"hash,label\n{B},y\n".encode())
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not store.match([FrameHash(B, 100)], [0.0]):
            time.sleep(0.05)
        assert store.match([FrameHash(B, 100)], [0.0])[0].label == "y"
    finally:
        store.close()


def test_a_word_list_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    from consumer.policy.hash_list_store import load_text_rules
    from consumer.settings import TextRule

    words = tmp_path / "words.txt"
    words.write_text("casino\n")
    (compiled,) = load_text_rules([TextRule(name="w", words=str(words))])
    assert compiled.regex.search("Casino night")
    with pytest.raises(ConfigError, match="cannot read a word list"):
        load_text_rules([TextRule(name="w", words=str(tmp_path / "gone.txt"))])
