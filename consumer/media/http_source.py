"""An SSRF-checked, seekable reader of an HTTP(S) object, built on HTTP range requests.

FFmpeg never opens a URL: `av.open` gets this file-like object, so seeking to a sampled
keyframe fetches only the ranges it needs. Every hop (the URL and each redirect) is checked
against the scheme/host allowlist and the address policy, the host is resolved once and the
connection goes to that checked address (no second DNS answer can rebind it), and every
response must arrive within `read_timeout_s` in total, so a slow-drip server cannot hold a
worker by trickling bytes.
"""

from __future__ import annotations

import http.client
import math
import re
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from consumer.errors import (
    MediaTooLarge,
    SourceRefused,
    SourceTimeout,
    SourceUnreachable,
)
from consumer.media.address_policy import (
    IPAddress,
    address_refusal,
    host_refusal,
    parse_ip_literal,
    parse_networks,
)
from consumer.settings import SourceSettings

Resolver = Callable[..., Sequence[tuple[Any, ...]]]

_REDIRECTS = {301, 302, 303, 307, 308}
_CONTENT_RANGE = re.compile(r"bytes (?:\d+-\d+|\*)/(\d+|\*)")


class _Deadline:
    """One absolute deadline shared by a connection's socket reads."""

    def __init__(self) -> None:
        self.at = math.inf

    def remaining_s(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("response not received within source.read_timeout_s")
        return left


class _DeadlineSocket(socket.socket):
    """A socket whose every read is bounded by the remaining time of its deadline."""

    deadline: _Deadline

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining_s())
        return super().recv_into(buffer, nbytes, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The TLS twin of `_DeadlineSocket` (TLS reads bypass the plain socket's methods)."""

    deadline: _Deadline

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining_s())
        return super().recv_into(buffer, nbytes, flags)


def connect_socket(address: IPAddress, port: int, timeout_s: float) -> _DeadlineSocket:
    """Open a TCP connection to an already checked address (tests watch this function)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = _DeadlineSocket(family, socket.SOCK_STREAM)
    sock.deadline = _Deadline()
    try:
        sock.settimeout(timeout_s)
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to `host`, but connected to the address checked for it, never re-resolved."""

    def __init__(self, host: str, port: int, address: IPAddress, *, tls: bool,
                 connect_timeout_s: float, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=connect_timeout_s)
        self._address = address
        self._tls = tls
        self._deadline = deadline

    def connect(self) -> None:
        assert self.timeout is not None
        sock = connect_socket(self._address, self.port, self.timeout)
        sock.deadline = self._deadline
        if self._tls:
            context = ssl.create_default_context()
            context.sslsocket_class = _DeadlineSSLSocket
            tls = context.wrap_socket(sock, server_hostname=self.host)
            tls.deadline = self._deadline  # type: ignore[attr-defined]
            self.sock = tls
        else:
            self.sock = sock


class HttpRangeReader:
    """Read-only, seekable file object over one HTTP(S) URL (what `av.open` needs)."""

    def __init__(self, url: str, source: SourceSettings, max_bytes: int,
                 resolver: Resolver = socket.getaddrinfo) -> None:
        self._source = source
        self._networks = parse_networks(source.allowed_networks)
        self._max_bytes = max_bytes
        self._resolver = resolver
        self._deadline = _Deadline()
        self._connections: dict[tuple[str, str, int], _PinnedConnection] = {}
        self._url = url
        self._pos = 0
        self._buffer = b""
        self._buffer_start = 0
        self.fetched_bytes = 0
        self.size = self._first_range()

    # file-object protocol used by PyAV
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self.size - self._pos
        end = min(self._pos + size, self.size)
        if self._pos >= end:
            return b""
        if not self._buffer_start <= self._pos < self._buffer_start + len(self._buffer):
            self._fill(self._pos)
        offset = self._pos - self._buffer_start
        data = self._buffer[offset:offset + (end - self._pos)]
        self._pos += len(data)
        return data

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def __enter__(self) -> HttpRangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # internals
    def _first_range(self) -> int:
        _, headers, body = self._get_range(0)
        total = _total_size(headers)
        if total > self._max_bytes:
            raise MediaTooLarge(
                f"source is {total} bytes, above decode.max_bytes={self._max_bytes}")
        self._buffer, self._buffer_start = body, 0
        return total

    def _fill(self, start: int) -> None:
        _, _, body = self._get_range(start)
        if not body:
            raise SourceUnreachable(f"empty range at byte {start} of {_redact(self._url)}")
        self._buffer, self._buffer_start = body, start

    def _get_range(self, start: int) -> tuple[int, http.client.HTTPMessage, bytes]:
        """GET one chunk from `start`, following (and re-checking) redirects."""
        chunk = self._source.range_chunk_bytes
        url = self._url
        for _ in range(self._source.max_redirects + 1):
            status, headers, body = self._request(url, f"bytes={start}-{start + chunk - 1}")
            if status in _REDIRECTS:
                location = headers.get("Location")
                if not location:
                    raise SourceUnreachable(f"HTTP {status} without Location from {_redact(url)}")
                url = urljoin(url, location)
                continue
            if status == 416:  # an empty object has no byte 0
                return status, headers, b""
            if status == 200:
                raise SourceUnreachable(
                    f"{_redact(url)} ignores HTTP range requests (answered 200 to a range)")
            if status != 206:
                raise SourceUnreachable(f"HTTP {status} from {_redact(url)}")
            self._url = url  # later ranges go straight to the final (checked) hop
            self.fetched_bytes += len(body)
            if self.fetched_bytes > self._max_bytes:
                raise MediaTooLarge(
                    f"reading {_redact(url)} exceeded decode.max_bytes={self._max_bytes}")
            return status, headers, body
        raise SourceRefused(f"more than source.max_redirects={self._source.max_redirects} "
                            f"redirects from {_redact(self._url)}")

    def _request(self, url: str, byte_range: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn, target = self._connection(url)
        self._deadline.at = time.monotonic() + self._source.read_timeout_s
        try:
            conn.request("GET", target, headers={"Range": byte_range,
                                                 "Accept-Encoding": "identity"})
            response = conn.getresponse()
            limit = self._source.range_chunk_bytes
            body = response.read(limit + 1) if response.status == 206 else b""
            if len(body) > limit:
                raise SourceUnreachable(f"{_redact(url)} sent more than the range asked for")
            if response.status != 206:
                conn.close()  # do not drain a body we will not use
            return response.status, response.headers, body
        except TimeoutError as exc:
            conn.close()
            raise SourceTimeout(f"{_redact(url)}: no complete response within "
                                f"source.read_timeout_s={self._source.read_timeout_s}") from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise SourceUnreachable(f"{_redact(url)}: {exc}") from exc
        finally:
            self._deadline.at = math.inf

    def _connection(self, url: str) -> tuple[_PinnedConnection, str]:
        """A connection to the checked address of `url`'s host, and the request target."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or scheme not in self._source.allowed_schemes:
            raise SourceRefused(f"scheme {scheme!r} is not allowed for {_redact(url)}")
        host = parts.hostname or ""
        refusal = host_refusal(host, self._source.allowed_hosts)
        if refusal:
            raise SourceRefused(refusal)
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise SourceRefused(f"invalid port in {_redact(url)}") from exc
        key = (scheme, host, port)
        if key not in self._connections:
            address = self._resolve_checked(host, port)
            self._connections[key] = _PinnedConnection(
                host, port, address, tls=scheme == "https",
                connect_timeout_s=self._source.connect_timeout_s, deadline=self._deadline)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return self._connections[key], target

    def _resolve_checked(self, host: str, port: int) -> IPAddress:
        """Resolve once; refuse if any answer is a forbidden address (no partial rebinding)."""
        literal = parse_ip_literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = self._resolver(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                raise SourceUnreachable(f"cannot resolve {host!r}: {exc}") from exc
            addresses = [a for a in (parse_ip_literal(str(i[4][0])) for i in infos) if a]
            if not addresses:
                raise SourceUnreachable(f"{host!r} resolved to no address")
        for address in addresses:
            refusal = address_refusal(address, self._networks)
            if refusal:
                raise SourceRefused(f"{host}: {refusal}")
        return addresses[0]


def _total_size(headers: http.client.HTTPMessage) -> int:
    match = _CONTENT_RANGE.fullmatch((headers.get("Content-Range") or "").strip())
    if match is None or match.group(1) == "*":
        raise SourceUnreachable("range response without a total size (Content-Range)")
    return int(match.group(1))


def _redact(url: str) -> str:
    """The URL without query or user info: presigned URLs carry credentials there."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"
