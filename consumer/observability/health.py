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
    """Liveness and readiness of a running pipeline, answered at once from state the loop and
    a background checker keep: a frozen Triton can make /readyz say "not ready", never make it
    hang. Each model's readiness is asked every `check_s`; an answer older than `stale_s` (the
    checker itself is stuck) counts as not ready."""

    def __init__(self, pipeline: Pipeline, model_ready: Sequence[Callable[[], bool]], *,
                 liveness_timeout_s: float, check_s: float = 2.0, stale_s: float = 6.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pipeline = pipeline
        self.model_ready = model_ready
        self.liveness_timeout_s = liveness_timeout_s
        self.check_s = check_s
        self.stale_s = stale_s
        self.clock = clock
        self._triton: tuple[float, bool] = (float("-inf"), False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def live(self) -> tuple[bool, dict[str, Any]]:
        age = self.clock() - self.pipeline.last_loop_at
        return age <= self.liveness_timeout_s, {"loop_age_s": round(age, 3)}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        breaker = self.pipeline.batches.breaker.state(self.clock())
        checked_at, triton_ready = self._triton
        age = self.clock() - checked_at
        detail = {
            "assigned_partitions": len(self.pipeline.partitions.assigned),
            "triton_ready": triton_ready and age <= self.stale_s,
            "triton_checked_s_ago": round(age, 3) if age != float("inf") else None,
            "breaker": breaker.name.lower(),
        }
        ok = bool(detail["assigned_partitions"]) and bool(detail["triton_ready"]) \
            and breaker is BreakerState.CLOSED
        return ok, detail

    def check_models(self) -> None:
        """Ask Triton once (blocking: the checker thread's job, never a request's)."""
        try:
            ready = all(check() for check in self.model_ready)
        except Exception:
            ready = False
        self._triton = (self.clock(), ready)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="readiness", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            self.check_models()
            if self._stop.wait(self.check_s):
                return

    def close(self) -> None:
        self._stop.set()


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
