"""Fixtures for pipeline tests: per-test topics, sample videos, a pipeline in a thread."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from consumer.logs import kafka_logged
from consumer.settings import KafkaTopics, Settings, load_settings
from tests.integration.conftest import RunningStack


def pipeline_settings(stack: RunningStack, topics: KafkaTopics, group: str,
                      **sections: dict[str, Any]) -> Settings:
    """Settings for a test pipeline: small keyframe cap, file:// sources allowed."""
    base: dict[str, dict[str, Any]] = {
        "kafka": {"bootstrap_servers": stack.addresses.kafka_bootstrap, "group_id": group,
                  "topics": topics.model_dump()},
        "triton": {"url": stack.addresses.triton_grpc, "breaker_reset_s": 1.0,
                   "retry_cap_s": 1.0},
        "decode": {"timeout_s": 30},
        "sampling": {"max_keyframes": 2},
        "workers": {"count": 2},
        "source": {"allowed_schemes": ["file", "http", "https"]},
        "pipeline": {"max_inflight_videos": 32, "batch_deadline_ms": 20, "commit_interval_s": 0.5,
                     "shutdown_grace_s": 60},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return load_settings(**base)


def upload_event(video_id: str, uri: str) -> bytes:
    return json.dumps({"video_id": video_id, "uri": uri,
                       "uploaded_at": datetime.now(UTC).isoformat(),
                       "content_type": "video/mp4"}).encode()


def uploads(videos: list[Path], count: int) -> list[tuple[str | None, bytes]]:
    """`count` upload events with ids v0, v1, ..., cycling over `videos`."""
    return [(f"v{i}", upload_event(f"v{i}", videos[i % len(videos)].as_uri()))
            for i in range(count)]


def produce(settings: Settings, records: list[tuple[str | None, bytes]],
            headers: list[tuple[str, bytes]] | None = None) -> None:
    producer = Producer(kafka_logged({**settings.kafka.librdkafka_config(),
                                      "enable.idempotence": True}))
    for key, value in records:
        producer.produce(settings.kafka.topics.input, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0


def read_topic(settings: Settings, topic: str, *, expect: int, timeout_s: float = 120,
               read_committed: bool = False, settle_s: float = 1.0) -> list[Any]:
    """Every record of `topic` from the start; waits for `expect`, then `settle_s` more."""
    consumer = Consumer(kafka_logged({**settings.kafka.librdkafka_config(),
                                      "group.id": f"reader-{topic}-{time.monotonic_ns()}",
                                      "auto.offset.reset": "earliest",
                                      "enable.auto.commit": False,
                                      "isolation.level": "read_committed" if read_committed
                                      else "read_uncommitted"}))
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                out.append(msg)
            if len(out) >= expect and settle_until is None:
                settle_until = time.monotonic() + settle_s
            if settle_until is not None and time.monotonic() >= settle_until:
                break
    finally:
        consumer.close()
    return out


def committed_vs_end(settings: Settings, group: str) -> tuple[dict[int, int], dict[int, int]]:
    """The group's committed positions and the input topic's end offsets, per partition."""
    consumer = Consumer(kafka_logged({**settings.kafka.librdkafka_config(), "group.id": group,
                                      "enable.auto.commit": False}))
    try:
        meta = consumer.list_topics(settings.kafka.topics.input, timeout=10)
        parts = sorted(meta.topics[settings.kafka.topics.input].partitions)
        tps = [TopicPartition(settings.kafka.topics.input, p) for p in parts]
        committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
        ends = {p: consumer.get_watermark_offsets(TopicPartition(settings.kafka.topics.input, p),
                                                  timeout=10)[1] for p in parts}
    finally:
        consumer.close()
    return {p: max(o, 0) for p, o in committed.items()}, ends


def wait_committed_to_end(settings: Settings, group: str, timeout_s: float = 30) -> None:
    """Wait until `group` has committed every input partition up to its end offset."""
    deadline = time.monotonic() + timeout_s
    committed, ends = committed_vs_end(settings, group)
    while committed != ends and time.monotonic() < deadline:
        time.sleep(0.5)
        committed, ends = committed_vs_end(settings, group)
    assert committed == ends


def verdict_ids_by_video(messages: list[Any]) -> dict[str, set[str]]:
    """video_id -> the verdict ids seen for it (one id = duplicates were harmless)."""
    out: dict[str, set[str]] = defaultdict(set)
    for msg in messages:
        record = json.loads(msg.value())
        out[record["video_id"]].add(record["verdict_id"])
    return out


@contextlib.contextmanager
def running_pipeline(settings: Settings, *, observe: bool = False) -> Iterator[Any]:
    """`vmc run`'s pipeline in a thread of this process; drained and stopped on exit."""
    from consumer.wiring import build_pipeline

    with contextlib.ExitStack() as stack:
        pipeline = build_pipeline(settings, stack, observe=observe)
        result: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: result.update(code=pipeline.run()),
                                  name="pipeline", daemon=True)
        thread.start()
        try:
            yield pipeline
        finally:
            pipeline.request_stop()
            thread.join(120)
            assert not thread.is_alive(), "pipeline did not stop within 120 s"
        assert result.get("code") == 0, f"pipeline exited with {result}"


def settings_env(settings: Settings) -> dict[str, str]:
    """The VMC_* environment that reproduces `settings` in a `vmc` subprocess."""
    env: dict[str, str] = {}

    def flatten(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and prefix.count("__") < 2 and not prefix.endswith(
                ("CATEGORIES", "CLIENT")):
            for key, item in value.items():
                flatten(f"{prefix}__{key.upper()}", item)
        elif value is not None:
            env[prefix] = json.dumps(value) if isinstance(value, list | dict) else str(value)

    for section, values in settings.model_dump(mode="json").items():
        flatten(f"VMC_{section.upper()}", values)
    return env


class VmcProcess:
    """`vmc COMMAND` (default `run`) in a subprocess, for crash, signal and replay tests."""

    def __init__(self, settings: Settings, log: Path, *command: str) -> None:
        import os
        import subprocess
        import sys

        env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
        env.update(settings_env(settings))
        env["VMC_LOG__FORMAT"] = "text"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "consumer",
                                          *(command or ("run",))],
                                         env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def signal(self, sig: int) -> None:
        import os

        os.killpg(self.proc.pid, sig) if sig == 9 else self.proc.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout_s)

    def stop(self) -> None:
        import os
        import signal as signals

        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signals.SIGKILL)
            self.proc.wait(30)


def wait_for_records(settings: Settings, topic: str, at_least: int, timeout_s: float,
                     read_committed: bool = False) -> list[Any]:
    """Poll a topic until it holds `at_least` records (fails the test on timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = read_topic(settings, topic, expect=at_least, timeout_s=5, settle_s=0,
                         read_committed=read_committed)
        if len(got) >= at_least:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{topic}: {len(got)} records after {timeout_s}s, wanted {at_least}")


class _DripHandler(http.server.BaseHTTPRequestHandler):
    """Serves one file slowly: small chunks with pauses (a slow origin, not a dead one)."""

    payload = b""
    seconds = 12.0

    def do_GET(self) -> None:
        body = self.payload
        start, end = 0, len(body) - 1
        if "Range" in self.headers:
            first, _, last = self.headers["Range"].removeprefix("bytes=").partition("-")
            start, end = int(first or 0), min(int(last) if last else end, end)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        chunk = max(1, len(body) // 24)
        for offset in range(start, end + 1, chunk):
            self.wfile.write(body[offset:min(offset + chunk, end + 1)])
            self.wfile.flush()
            time.sleep(self.seconds / 24)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@contextlib.contextmanager
def drip_server(payload: bytes, seconds: float = 12.0) -> Iterator[str]:
    """A 127.0.0.1 HTTP server that takes `seconds` to send `payload` (a slow origin)."""
    handler = type("Drip", (_DripHandler,), {"payload": payload, "seconds": seconds})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slow.mp4"
    finally:
        server.shutdown()
        server.server_close()


def metric_value(port: int, sample: str) -> float | None:
    """One sample of a consumer's /metrics (`name{labels}` as exposed), or None."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
    return None


def wait_metric(port: int, sample: str, value: float, timeout_s: float = 60) -> None:
    """Poll /metrics until `sample` reads `value` (fails the test on timeout)."""
    deadline = time.monotonic() + timeout_s
    seen = metric_value(port, sample)
    while seen != value and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = metric_value(port, sample)
    assert seen == value, f"{sample} is {seen}, not {value}"
