"""One HTTP port: /metrics, /healthz (the loop is alive), /readyz (ready to do work).

Liveness never depends on Kafka or Triton, or a Triton outage would restart every pod.
Readiness needs partitions assigned, Triton (each model) ready and the breaker closed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from consumer.inference.breaker import BreakerState

if TYPE_CHECKING:
    from consumer.pipeline.runner import Pipeline

Check = Callable[[], tuple[bool, dict[str, Any]]]


class PipelineProbes:
    """Liveness and readiness of a running pipeline; Triton answers are cached briefly."""

    def __init__(self, pipeline: Pipeline, model_ready: Sequence[Callable[[], bool]], *,
                 liveness_timeout_s: float, cache_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pipeline = pipeline
        self.model_ready = model_ready
        self.liveness_timeout_s = liveness_timeout_s
        self.cache_s = cache_s
        self.clock = clock
        self._triton: tuple[float, bool] = (float("-inf"), False)
        self._lock = threading.Lock()

    def live(self) -> tuple[bool, dict[str, Any]]:
        age = self.clock() - self.pipeline.last_loop_at
        return age <= self.liveness_timeout_s, {"loop_age_s": round(age, 3)}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        breaker = self.pipeline.batches.breaker.state(self.clock())
        detail = {
            "assigned_partitions": len(self.pipeline.partitions.assigned),
            "triton_ready": self._triton_ready(),
            "breaker": breaker.name.lower(),
        }
        ok = bool(detail["assigned_partitions"]) and bool(detail["triton_ready"]) \
            and breaker is BreakerState.CLOSED
        return ok, detail

    def _triton_ready(self) -> bool:
        with self._lock:
            checked_at, ready = self._triton
            if self.clock() - checked_at >= self.cache_s:
                ready = all(check() for check in self.model_ready)
                self._triton = (self.clock(), ready)
            return ready


class HealthServer:
    """Serves the endpoints from a daemon thread; `close` stops it."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry, live: Check,
                 ready: Check) -> None:
        handler = type("Handler", (_Handler,), {"registry": registry, "live": staticmethod(live),
                                                "ready": staticmethod(ready)})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="vmc-health",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    registry: CollectorRegistry
    live: Check
    ready: Check

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        elif path in ("/healthz", "/readyz"):
            ok, detail = (self.live if path == "/healthz" else self.ready)()
            body = json.dumps({"ok": ok, **detail}).encode()
            self._send(200 if ok else 503, body, "application/json")
        else:
            self._send(404, b"not found: try /metrics, /healthz or /readyz\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return
