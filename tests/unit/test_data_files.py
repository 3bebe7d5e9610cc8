"""Reading the operator's data files: regular files only, bounded, whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consumer import data_files
from consumer.data_files import DataFileError, read_bounded


def test_a_file_is_read_whole_with_the_signature_of_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"x" * 100_000)
    data, seen = read_bounded(str(path), 100_000)
    assert data.tobytes() == b"x" * 100_000 and seen == data_files.signature(str(path))
    assert read_bounded(f"file://{path}", 100_000)[0].tobytes() == b"x" * 100_000


def test_a_file_that_grew_after_its_stat_is_read_to_its_end_within_the_limit(
        tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"y" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert data_files._read_all(fd, 10, 5000).tobytes() == b"y" * 1000
    finally:
        os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert len(data_files._read_all(fd, 10, 500)) == 501, "limit + 1: over the limit"
    finally:
        os.close(fd)


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    path = tmp_path / kind
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    with pytest.raises(DataFileError, match="is not a regular file") as info:
        read_bounded(str(path), 1000)
    assert info.value.reason == "not_regular_file"


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"z" * 1001)
    with pytest.raises(DataFileError, match="larger than its limit of 1000 bytes") as info:
        read_bounded(str(path), 1000)
    assert info.value.reason == "too_large"
    assert len(read_bounded(str(path), 1001)[0]) == 1001


def test_a_folder_is_read_file_by_file_in_order_dot_files_left_out(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_bytes(b"two")
    (tmp_path / "1.txt").write_bytes(b"one")
    (tmp_path / ".1.txt.partial").write_bytes(b"half")  # a writer's temporary file
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_bytes(b"ref")
    taken, seen = data_files.read_tree(str(tmp_path), 100, 10,
                                       lambda name, data: (name, data.tobytes()))
    assert [(n.rsplit("/", 1)[-1], d) for n, d in taken] == [("1.txt", b"one"),
                                                             ("2.txt", b"two")]
    assert seen == data_files.tree_signature(str(tmp_path), 10)
    one, _ = data_files.read_tree(str(tmp_path / "1.txt"), 100, 1, lambda n, d: d.tobytes())
    assert one == [b"one"], "a file is a set of one"


def test_a_folder_signature_changes_when_a_file_changes_appears_or_goes(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    before = data_files.tree_signature(str(tmp_path), 10)
    assert data_files.tree_signature(str(tmp_path), 10) == before
    (tmp_path / "b").write_bytes(b"b")
    added = data_files.tree_signature(str(tmp_path), 10)
    (tmp_path / "b").unlink()
    os.utime(tmp_path / "a", ns=(5, 5))
    changed = data_files.tree_signature(str(tmp_path), 10)
    (tmp_path / "a").unlink()
    assert len({before, added, changed, data_files.tree_signature(str(tmp_path), 10)}) == 4


def test_a_folder_is_bounded_in_bytes_in_all_and_in_file_count(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.txt").write_bytes(b"x" * 100)
    assert len(data_files.read_tree(str(tmp_path), 300, 3, lambda n, d: len(d))[0]) == 3
    with pytest.raises(DataFileError, match="larger than its limit of 299 bytes") as info:
        data_files.read_tree(str(tmp_path), 299, 3, lambda n, d: len(d))
    assert info.value.reason == "too_large" and str(tmp_path) in str(info.value)
    with pytest.raises(DataFileError, match="more than its limit of 2 files") as info:
        data_files.tree_signature(str(tmp_path), 2)
    assert info.value.reason == "too_large"


def test_a_fifo_in_a_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    from tests.unit.blocking import bounded_in_time

    (tmp_path / "a.txt").write_bytes(b"a")
    os.mkfifo(tmp_path / "b.fifo")
    with pytest.raises(DataFileError, match="is not a regular file"):
        bounded_in_time(lambda: data_files.read_tree(str(tmp_path), 100, 10,
                                                     lambda n, d: len(d)))


def test_an_object_store_prefix_is_a_folder() -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/tree/x/1.txt", b"one")
    fs.pipe("/tree/x/sub/2.txt", b"two")
    fs.pipe("/tree/x/.tmp", b"half")
    fs.pipe("/tree/x/.cache/3.txt", b"cached")
    taken, seen = data_files.read_tree("memory:///tree/x", 100, 10,
                                       lambda name, data: (name, data.tobytes()))
    assert taken == [("memory:///tree/x/1.txt", b"one"), ("memory:///tree/x/sub/2.txt", b"two")]
    fs.pipe("/tree/x/sub/3.txt", b"three")
    assert data_files.tree_signature("memory:///tree/x", 10) != seen
    with pytest.raises(DataFileError, match="more than its limit of 2 files"):
        data_files.tree_signature("memory:///tree/x", 2)


def test_a_folder_changing_while_read_is_read_again_then_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_bytes(b"a")
    reads: list[str] = []
    ticks = iter(range(100))
    monkeypatch.setattr(data_files, "RETRY_PAUSE_S", 0)
    monkeypatch.setattr(data_files, "tree_signature", lambda path, limit: (str(next(ticks)),))
    with pytest.raises(DataFileError, match="changed while it was read") as info:
        data_files.read_tree(str(tmp_path), 100, 10, lambda n, d: reads.append(n))
    assert info.value.reason == "changing" and len(reads) == data_files.READ_ATTEMPTS


def test_a_file_removed_between_listing_and_reading_reads_the_set_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bank entry taken out while the folder is read (the decisions consumer removes
    entries): the set is read again, not refused as unreadable."""
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    real, calls = data_files.read_bounded, []

    def removed_once(name: str, limit: int) -> tuple[memoryview, tuple[str, ...]]:
        calls.append(name)
        if name.endswith("b.txt") and calls.count(name) == 1:
            (tmp_path / "b.txt").unlink()
            raise FileNotFoundError(name)
        return real(name, limit)

    monkeypatch.setattr(data_files, "read_bounded", removed_once)
    monkeypatch.setattr(data_files, "RETRY_PAUSE_S", 0.0)
    taken, _ = data_files.read_tree(str(tmp_path), 1 << 20, 10,
                                    lambda name, data: (Path(name).name, bytes(data)))
    assert taken == [("a.txt", b"a\n")]
