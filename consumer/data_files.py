"""Reading the operator's data files (hash lists, word lists, music catalogues) so that a bad
file can only be refused, never hang the consumer, exhaust its memory or be read half-written.

The threats, as found on a running consumer: a path that is a FIFO (or a device such as
`/dev/zero`) blocked the start-up and the reload thread for ever, or read until memory ran out;
a file rewritten in place was read while half written. So only regular files (or object-store
objects) are read, opened non-blocking and checked with `fstat` on the open descriptor (no race
between the check and the read), at most `limit + 1` bytes; and the file's signature before and
after the read must agree, or the read is retried and finally refused as `changing`.
A folder (or an object-store prefix) is read file by file under the same rules, bounded in
bytes for all its files together and in file count, and its signature covers every file.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from consumer.errors import ConsumerError

# Object-store metadata that changes when an object does (S3, GCS, fsspec's memory store).
_INFO_KEYS = ("size", "mtime", "LastModified", "ETag", "etag", "updated", "generation",
              "md5Hash", "created")
READ_ATTEMPTS = 3
RETRY_PAUSE_S = 0.2
T = TypeVar("T")


class DataFileError(ConsumerError):
    """A data file refused before use; `reason` is a stable, low-cardinality metric label."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def is_uri(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def filesystem(path: str) -> Any:
    try:
        import fsspec  # type: ignore[import-untyped]
    except ImportError as exc:
        raise DataFileError(f"{path}: reading URIs needs fsspec (the [s3] or [gcs] extra)",
                            "unreadable") from exc
    return fsspec.core.url_to_fs(path)[0]


def _local(path: str) -> str:
    return path.removeprefix("file://")


def _stat_signature(info: os.stat_result) -> tuple[str, ...]:
    return (str(info.st_size), str(info.st_mtime_ns), str(info.st_ino), str(info.st_dev))


def signature(path: str) -> tuple[str, ...]:
    """What changes when the file does: size, modification time and inode (or the object's
    ETag/generation). `stat` never opens the file, so a FIFO here does not block."""
    if is_uri(path):
        info = filesystem(path).info(path)
        return tuple(str(info.get(key)) for key in _INFO_KEYS)
    return _stat_signature(os.stat(_local(path)))


def read_bounded(path: str, limit_bytes: int) -> tuple[memoryview, tuple[str, ...]]:
    """The whole file's bytes and the signature of the version read. Raises `DataFileError`
    (reason `not_regular_file`, `too_large`, `changing`) or `OSError` when it cannot be
    opened."""
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(RETRY_PAUSE_S)
        data, before, after = (_read_uri if is_uri(path) else _read_local)(path, limit_bytes)
        if before == after:
            return data, after
    raise DataFileError(f"{path} changed while it was read ({READ_ATTEMPTS} tries): a write "
                        "in progress? (write a new file and rename it over the old one)",
                        "changing")


def _too_large(path: str, limit_bytes: int) -> DataFileError:
    return DataFileError(f"{path} is larger than its limit of {limit_bytes} bytes (max_bytes)",
                         "too_large")


def _read_local(path: str,
                limit_bytes: int) -> tuple[memoryview, tuple[str, ...], tuple[str, ...]]:
    fd = os.open(_local(path), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataFileError(f"{path} is not a regular file", "not_regular_file")
        if info.st_size > limit_bytes:
            raise _too_large(path, limit_bytes)
        buffer = _read_all(fd, info.st_size, limit_bytes)
        if len(buffer) > limit_bytes:
            raise _too_large(path, limit_bytes)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    return buffer, _stat_signature(info), _stat_signature(after)


def _read_all(fd: int, expected: int, limit_bytes: int) -> memoryview:
    """Up to `limit_bytes + 1` bytes into one buffer, in chunks. The buffer is a numpy array:
    unlike `bytearray(n)` it is not zero-filled first, and no join copies the whole afterwards
    (each of those holds the GIL for tens of milliseconds on a 150 MB list)."""
    buffer = np.empty(min(expected, limit_bytes) + 1, np.uint8)
    total = 0
    while total <= limit_bytes:
        if total == len(buffer):  # the file grew while read
            buffer = np.concatenate((buffer, np.empty(min(len(buffer), limit_bytes + 1 - total),
                                                      np.uint8)))
        count = os.readv(fd, [buffer[total:total + (1 << 24)].data])
        if not count:
            break
        total += count
    return buffer[:total].data


def _read_uri(path: str,
              limit_bytes: int) -> tuple[memoryview, tuple[str, ...], tuple[str, ...]]:
    fs = filesystem(path)
    info = fs.info(path)
    if info.get("type", "file") != "file":
        raise DataFileError(f"{path} is not a file ({info.get('type')})", "not_regular_file")
    size = info.get("size")
    if isinstance(size, int) and size > limit_bytes:
        raise _too_large(path, limit_bytes)
    with fs.open(path, "rb") as handle:
        data: bytes = handle.read(limit_bytes + 1)
    if len(data) > limit_bytes:
        raise _too_large(path, limit_bytes)
    before = tuple(str(info.get(key)) for key in _INFO_KEYS)
    return memoryview(data), before, signature(path)


# A folder or prefix of files (a bank of vPDQ files, one per video): the same bounds for the
# whole set, and a signature that changes when any file is changed, added or removed.

def _hidden(name: str) -> bool:
    """Dot files are skipped: the temporary file of a writer that renames when done (rsync,
    `gsutil`, editors), `.DS_Store`."""
    return name.rsplit("/", 1)[-1].startswith(".")


def _too_many(path: str, max_files: int) -> DataFileError:
    return DataFileError(f"{path} holds more than its limit of {max_files} files (max_files)",
                         "too_large")


def _local_tree(root: str, max_files: int) -> list[tuple[str, tuple[str, ...]]]:
    found: list[tuple[str, tuple[str, ...]]] = []
    for folder, dirs, names in os.walk(root):  # symlinked folders are not followed
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        for name in sorted(n for n in names if not _hidden(n)):
            if len(found) == max_files:
                raise _too_many(root, max_files)
            full = os.path.join(folder, name)
            try:
                found.append((full, _stat_signature(os.stat(full))))
            except FileNotFoundError:
                continue  # removed since the listing (or a dangling link): not in the set
    return found


def _uri_tree(path: str, max_files: int) -> list[tuple[str, tuple[str, ...]]]:
    fs = filesystem(path)
    root = fs._strip_protocol(path).rstrip("/")
    listing = fs.find(path, detail=True)
    names = sorted(name for name, info in listing.items()
                   if info.get("type", "file") == "file" and not any(
                       _hidden(part) for part in name.removeprefix(root).split("/")))
    if len(names) > max_files:
        raise _too_many(path, max_files)
    return [(fs.unstrip_protocol(name), tuple(str(listing[name].get(key)) for key in _INFO_KEYS))
            for name in names]


def _is_folder(path: str) -> bool:
    if is_uri(path):
        return bool(filesystem(path).info(path).get("type") == "directory")
    return os.path.isdir(_local(path))


def _listing(path: str, max_files: int) -> tuple[list[str], tuple[str, ...]]:
    """The files a path names and the signature of the set: the path itself when it is a file
    (or an object), else every file under the folder (or prefix), sorted, dot files left out,
    each with its name and signature."""
    if not _is_folder(path):
        return [path], signature(path)
    found = _uri_tree(path, max_files) if is_uri(path) else _local_tree(_local(path), max_files)
    return ([name for name, _ in found],
            ("folder", *(f"{name}\0{' '.join(seen)}" for name, seen in found)))


def tree_signature(path: str, max_files: int) -> tuple[str, ...]:
    """What changes when the file, or any file of the folder, changes, appears or goes. Raises
    `DataFileError` (`too_large`) past `max_files`, `OSError` when it cannot be listed."""
    return _listing(path, max_files)[1]


def read_tree(path: str, limit_bytes: int, max_files: int,
              take: Callable[[str, memoryview], T]) -> tuple[list[T], tuple[str, ...]]:
    """`take(name, bytes)` of each file of a file, folder or prefix, one file at a time (a
    file's bytes are dropped once taken, so a folder costs its largest file, not its sum), and
    the signature of the set read. At most `limit_bytes` in all; a set that changes while read
    is read again, then refused as `changing` like one file."""
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(RETRY_PAUSE_S)
        files, before = _listing(path, max_files)
        taken, total = [], 0
        for name in files:
            try:
                data, _ = read_bounded(name, limit_bytes - total)
            except DataFileError as exc:
                if exc.reason == "too_large" and name != path:
                    raise _too_large(path, limit_bytes) from exc
                raise
            except FileNotFoundError:
                if name == path:
                    raise
                break  # removed since it was listed (a bank entry taken out): read the set again
            total += len(data)
            taken.append(take(name, data))
            del data
        else:
            if tree_signature(path, max_files) == before:
                return taken, before
    raise DataFileError(f"{path} changed while it was read ({READ_ATTEMPTS} tries): a write "
                        "in progress? (write a new file and rename it over the old one)",
                        "changing")
