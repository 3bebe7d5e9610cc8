"""A local HTTP server for tests: 127.0.0.1 only, range requests, scripted misbehaviour.

Runs in a daemon thread and is shut down by the fixture that starts it.
"""

from __future__ import annotations

import re
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "video/mp4"
    redirect: str | None = None
    ranges: bool = True
    drip_s: float = 0.0  # pause between body bytes (slow drip)
    stall_s: float = 0.0  # pause before answering at all


@dataclass
class Server:
    host: str
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range)
    scheme: str = "http"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    @property
    def bytes_sent(self) -> int:
        return sum(_range_length(r, self.routes) for r in self.requests)


def _range_length(request: tuple[str, str | None], routes: dict[str, Route]) -> int:
    path, header = request
    route = routes.get(path)
    if route is None or route.redirect:
        return 0
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", header or "")
    if not match:
        return len(route.body)
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else len(route.body) - 1
    return max(0, min(end, len(route.body) - 1) - start + 1)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, self.headers.get("Range")))
            route = server.routes.get(self.path)
            if route is None:
                self._send(404, b"not found", "text/plain")
                return
            time.sleep(route.stall_s)
            if route.redirect:
                self.send_response(302)
                self.send_header("Location", route.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, status = route.body, 200
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            extra: dict[str, str] = {}
            if route.ranges and match:
                start = int(match.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                end = min(int(match.group(2) or len(body) - 1), len(body) - 1)
                extra["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
                body, status = body[start:end + 1], 206
            self._send(status, body, route.content_type, extra, route.drip_s)

        def _send(self, status: int, body: bytes, content_type: str,
                  extra: dict[str, str] | None = None, drip_s: float = 0.0) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            try:
                if drip_s:
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(drip_s)
                else:
                    self.wfile.write(body)
            except ConnectionError:
                pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (timeouts under test) are expected, not errors to print."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """Start a server on a free port of `host` (a loopback address); stop it on exit."""
    server = Server(host, 0, scheme="https" if tls else "http")
    httpd = _QuietServer((host, 0), _handler(server))
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
