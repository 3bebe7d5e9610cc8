"""Open a media URI as a seekable file object for `av.open`, within the source policy.

Local paths and `file://` (only if `file` is an allowed scheme), `http(s)://` through the
SSRF-checked range reader, and any other allowed scheme (`gs://`, `s3://`, ...) through
fsspec, whose cloud back-ends are optional extras imported only when used.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

from consumer.errors import MediaTooLarge, SourceRefused, SourceUnreachable
from consumer.media.http_source import HttpRangeReader
from consumer.media.object_stores import filesystem
from consumer.settings import SourceSettings


class ByteSource(Protocol):
    """What `av.open` needs from a file object: sized reads and seeks."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


@dataclass
class OpenedSource:
    """A readable, seekable byte source and what is known about it before demuxing."""

    file: ByteSource
    size_bytes: int
    remote: bool


def scheme_of(uri: str) -> str:
    """`file` for plain paths (including Windows drive letters), else the URI's scheme."""
    scheme = urlsplit(uri).scheme.lower()
    return "file" if len(scheme) <= 1 else scheme


def allowing_named_files(source: SourceSettings, uris: Sequence[str]) -> SourceSettings:
    """Allow `file` when an operator names local paths on the command line (never for events)."""
    if "file" in source.allowed_schemes or not any(scheme_of(u) == "file" for u in uris):
        return source
    return source.model_copy(update={"allowed_schemes": [*source.allowed_schemes, "file"]})


@contextlib.contextmanager
def open_source(uri: str, source: SourceSettings, max_bytes: int) -> Iterator[OpenedSource]:
    """Open `uri` for reading; refuse it if its scheme or size is not allowed."""
    scheme = scheme_of(uri)
    if scheme not in source.allowed_schemes:
        raise SourceRefused(f"scheme {scheme!r} is not in source.allowed_schemes "
                            f"{source.allowed_schemes}")
    if scheme == "file":
        with _open_local(uri, max_bytes) as opened:
            yield opened
    elif scheme in ("http", "https"):
        with HttpRangeReader(uri, source, max_bytes) as reader:
            yield OpenedSource(reader, reader.size, remote=True)
    else:
        with _open_fsspec(uri, scheme, source, max_bytes) as opened:
            yield opened


@contextlib.contextmanager
def _open_local(uri: str, max_bytes: int) -> Iterator[OpenedSource]:
    path = unquote(urlsplit(uri).path) if uri.lower().startswith("file:") else uri
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise SourceUnreachable(f"cannot open {path}: {exc.strerror or exc}") from exc
    with file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SourceRefused(f"{path} is not a regular file")
        _check_size(info.st_size, max_bytes, path)
        yield OpenedSource(file, info.st_size, remote=False)


@contextlib.contextmanager
def _open_fsspec(uri: str, scheme: str, source: SourceSettings,
                 max_bytes: int) -> Iterator[OpenedSource]:
    fs = filesystem(scheme, source)
    path = fs._strip_protocol(uri)
    try:
        size = int(fs.size(path))
        _check_size(size, max_bytes, uri)
        file = fs.open(path, "rb", block_size=source.range_chunk_bytes)
    except FileNotFoundError as exc:
        raise SourceUnreachable(f"{uri} does not exist") from exc
    except PermissionError as exc:
        raise SourceUnreachable(f"{uri}: access denied ({type(exc).__name__}: check the "
                                "credentials in the environment)") from exc
    except OSError as exc:
        raise SourceUnreachable(f"cannot open {uri}: {exc}") from exc
    with file:
        yield OpenedSource(file, size, remote=True)


def _check_size(size: int, max_bytes: int, name: str) -> None:
    if size > max_bytes:
        raise MediaTooLarge(f"{name} is {size} bytes, above decode.max_bytes={max_bytes}")
