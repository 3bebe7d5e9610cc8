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
