"""The local stack as one unit: `up`, `down` and `status` over a state folder.

The state folder holds each part's home (config, data, log), `ports.json` (ports stay the same
from one `up` to the next while free), `options.json` (the opt-in parts: a SASL_SSL listener,
object stores), `processes.json` (what `down` stops) and `addresses.json` (what `vmc` and the
tests read to find the stack).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from consumer.settings import DevSettings, KafkaTopics
from devstack.kafka import (
    KafkaBroker,
    KafkaPorts,
    create_topics,
    fetch_kafka_jars,
    kafka_libs_dir,
    topic_configs,
    topic_layout,
)
from devstack.kafka_security import SecuredKafka
from devstack.object_stores import (
    FakeGcs,
    S3Proxy,
    build_fake_gcs,
    fake_gcs_binary,
    fetch_s3proxy,
    s3proxy_jar,
)
from devstack.process import (
    ProcessRecord,
    StackError,
    free_port,
    port_is_free,
    stop_process,
    wait_until,
)
from devstack.prometheus import PrometheusServer
from devstack.secret_files import ensure_secret
from devstack.state import ADDRESSES_FILE, PartStatus, StackAddresses, StackOptions
from devstack.triton import TritonPorts, TritonServer
from triton_models.repository import DEV_ACCEPTED_LICENCES, DEV_MODELS, write_repository

_PORT_NAMES = ("kafka", "kafka_controller", "kafka_sasl_ssl", "triton_http", "triton_grpc",
               "triton_metrics", "prometheus", "s3proxy", "fake_gcs")
PORT_RACE_RETRIES = 2
_PORT_TAKEN = re.compile(r"already in use", re.IGNORECASE)


class _Server(Protocol):
    def launch(self, *, ttl_s: float, die_with_parent: bool) -> ProcessRecord: ...

    def ready(self) -> bool: ...


@dataclass(frozen=True)
class _Part:
    """One server of the stack, as `up`, `status` and restarts see it."""

    server: _Server
    address: str
    log: Path
    ports: tuple[str, ...]  # names in ports.json


def _ports_free(ports: list[int]) -> bool:
    return all(port_is_free(port) for port in ports)


class DevStack:
    """Kafka + tritonserver + Prometheus on loopback, owned through a state folder; with
    `options`, a SASL_SSL listener on the broker and S3/GCS object stores too. Without
    `options`, those of the stack's last `up` (so `status`, `down` and a demo leave a running
    stack as it is)."""

    def __init__(
        self,
        dev: DevSettings,
        topics: KafkaTopics,
        consumer_metrics_port: int,
        *,
        options: StackOptions | None = None,
        ttl_s: float | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.dev = dev
        self.topics = topics
        self.consumer_metrics_port = consumer_metrics_port
        self.ttl_s = dev.ttl_s if ttl_s is None else ttl_s
        self.die_with_parent = die_with_parent
        self.state_dir = dev.state_dir
        self.options = StackOptions.load(self.state_dir) if options is None else options
        self.ports = self._ports()

    def _ports(self) -> dict[str, int]:
        path = self.state_dir / "ports.json"
        try:
            saved: dict[str, int] = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
        return {name: saved.get(name) or free_port() for name in _PORT_NAMES}

    def _refresh_busy_ports(self, *, fresh: bool = False) -> None:
        """Ports saved by an earlier `up` may have been taken by something else since."""
        taken = set()
        for name in _PORT_NAMES:
            if fresh:
                self.ports[name] = free_port()
            while not port_is_free(self.ports[name]) or self.ports[name] in taken:
                self.ports[name] = free_port()
            taken.add(self.ports[name])
        (self.state_dir / "ports.json").write_text(json.dumps(self.ports, indent=2))

    @property
    def kafka(self) -> KafkaBroker:
        return KafkaBroker(
            self.state_dir / "kafka",
            kafka_libs_dir(self.dev.cache_dir, self.dev.kafka_version),
            KafkaPorts(self.ports["kafka"], self.ports["kafka_controller"]),
            self.dev.kafka_heap_mb,
            sasl_ssl_port=self.ports["kafka_sasl_ssl"] if self.options.secured_kafka else None,
            data_dir=self._kafka_data_in_memory(),
        )

    def _kafka_data_in_memory(self) -> Path | None:
        """The broker's data folder on tmpfs, named after the state folder; None for the
        default (in the broker's home) or where there is no /dev/shm."""
        shm = Path("/dev/shm")
        if not self.options.kafka_data_in_memory or not shm.is_dir():
            return None
        digest = hashlib.sha256(str(self.state_dir.resolve()).encode()).hexdigest()[:16]
        return shm / f"vmc-kafka-{digest}"

    def secured_kafka(self) -> SecuredKafka | None:
        """How to reach the broker's SASL_SSL listener, when the stack has one."""
        return self.kafka.secured

    @property
    def triton(self) -> TritonServer:
        return TritonServer(
            self.state_dir / "triton", self.state_dir / "models",
            TritonPorts(self.ports["triton_http"], self.ports["triton_grpc"],
                        self.ports["triton_metrics"]),
        )

    @property
    def prometheus(self) -> PrometheusServer:
        return PrometheusServer(
            self.state_dir / "prometheus", self.ports["prometheus"],
            {
                "triton": [f"127.0.0.1:{self.ports['triton_metrics']}"],
                "consumer": [f"127.0.0.1:{self.consumer_metrics_port}"],
            },
        )

    @property
    def s3proxy(self) -> S3Proxy:
        home = self.state_dir / "s3proxy"
        return S3Proxy(home, self.ports["s3proxy"], s3proxy_jar(self.dev.cache_dir),
                       secret_key=ensure_secret(self.s3_secret_key_file))

    @property
    def s3_secret_key_file(self) -> Path:
        """The S3 secret key of access key `S3_ACCESS_KEY`, random per stack (0600)."""
        return self.state_dir / "s3proxy" / "secret" / "secret-key"

    @property
    def fake_gcs(self) -> FakeGcs:
        return FakeGcs(self.state_dir / "fake-gcs", self.ports["fake_gcs"],
                       fake_gcs_binary(self.dev.cache_dir))

    def _parts(self) -> dict[str, _Part]:
        """The servers of this stack, by process name, in start order."""
        kafka, triton, prometheus = self.kafka, self.triton, self.prometheus
        kafka_ports = ("kafka", "kafka_controller") + (
            ("kafka_sasl_ssl",) if self.options.secured_kafka else ())
        parts = {
            "kafka": _Part(kafka, kafka.bootstrap, kafka.home / "kafka.log", kafka_ports),
            "triton": _Part(triton, triton.grpc_url, triton.home / "triton.log",
                            ("triton_http", "triton_grpc", "triton_metrics")),
            "prometheus": _Part(prometheus, prometheus.url, prometheus.home / "prometheus.log",
                                ("prometheus",)),
        }
        if self.options.object_stores:
            s3, gcs = self.s3proxy, self.fake_gcs
            parts["s3proxy"] = _Part(s3, s3.url, s3.home / "s3proxy.log", ("s3proxy",))
            parts["fake-gcs"] = _Part(gcs, gcs.url, gcs.home / "fake-gcs.log", ("fake_gcs",))
        return parts

    def addresses(self) -> StackAddresses:
        kafka = self.kafka
        return StackAddresses(
            kafka_bootstrap=kafka.bootstrap,
            triton_grpc=self.triton.grpc_url,
            triton_http=self.triton.http_url,
            triton_metrics_url=self.triton.metrics_url,
            prometheus_url=self.prometheus.url,
            kafka_sasl_ssl=kafka.sasl_ssl.address if kafka.sasl_ssl is not None else "",
            s3_url=self.s3proxy.url if self.options.object_stores else "",
            gcs_url=self.fake_gcs.url if self.options.object_stores else "",
        )

    def records(self) -> list[ProcessRecord]:
        try:
            raw: list[dict[str, Any]] = json.loads((self.state_dir / "processes.json").read_text())
        except (OSError, ValueError):
            return []
        return [ProcessRecord(**item) for item in raw]

    def _checks(self) -> dict[str, Callable[[], bool]]:
        return {name: part.server.ready for name, part in self._parts().items()}

    def up(self, log: Callable[[str], None] = lambda _: None) -> StackAddresses:
        """Start what is not running and wait until every part answers; idempotent. Parts
        that died are started again on their own ports, the others left running: clients
        keep working across `up` (addresses never move under them). A stack that runs with
        other options is stopped and started anew (same ports, same data)."""
        records = self.records()
        running = StackOptions.load(self.state_dir)
        if records and running != self.options:
            log(f"restarting the stack with {self.options} (it runs with {running})")
            self.down()
            records = []
        if records and all(r.alive() for r in records) and self._all_healthy():
            log("stack already up")
            return self.addresses()
        healthy = {part.name for part in self.status() if part.healthy}
        if records and healthy and (self.state_dir / ADDRESSES_FILE).exists():
            return self._restart_parts(records, healthy, log)
        self.down()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.options.save(self.state_dir)
        start = time.monotonic()
        log(f"fetching Kafka {self.dev.kafka_version} jars (cached in {self.dev.cache_dir})")
        fetch_kafka_jars(self.dev.cache_dir, self.dev.kafka_version)
        if self.options.object_stores:
            log("fetching s3proxy and building fake-gcs-server (once, into the same cache)")
            fetch_s3proxy(self.dev.cache_dir)
            build_fake_gcs(self.dev.cache_dir)
        # The default models, and the opt-in AGPL detector for the tests that exercise it:
        # accepted explicitly, served on loopback only.
        write_repository(self.state_dir / "models", target="cpu", cache_dir=self.dev.cache_dir,
                         models=DEV_MODELS, accept_licences=DEV_ACCEPTED_LICENCES)
        for attempt in range(PORT_RACE_RETRIES + 1):
            self._refresh_busy_ports(fresh=attempt > 0)
            logs = self._log_sizes()
            try:
                self._start_parts(log, start)
                break
            except StackError as exc:
                # A port found free can be taken before the server binds it: try new ones.
                if attempt == PORT_RACE_RETRIES or not self._lost_a_port(logs):
                    raise
                log(f"a port was taken while starting, retrying on new ports: {exc}")
        addresses = self.addresses()
        addresses.save(self.state_dir)
        log(f"stack up in {time.monotonic() - start:.1f}s")
        return addresses

    def _restart_parts(self, records: list[ProcessRecord], healthy: set[str],
                       log: Callable[[str], None]) -> StackAddresses:
        """Start again, on the same ports, each part that is not healthy."""
        start = time.monotonic()
        kept = [r for r in records if r.name in healthy]
        for record in records:
            if record.name not in healthy and record.alive():
                stop_process(record)  # running but not answering: replace it
        restarted = []
        try:
            for name, part in self._parts().items():
                if name in healthy:
                    continue
                ports = [self.ports[p] for p in part.ports]
                wait_until(f"{name}'s ports {ports} to be free",
                           functools.partial(_ports_free, ports),
                           timeout_s=self.dev.start_timeout_s)
                record = part.server.launch(ttl_s=self.ttl_s,
                                            die_with_parent=self.die_with_parent)
                restarted.append(record)
                self._save([*kept, *restarted])
                wait_until(name, part.server.ready, timeout_s=self.dev.start_timeout_s,
                           record=record)
                log(f"{name} restarted on its ports after {time.monotonic() - start:.1f}s")
        except BaseException:
            for record in restarted:
                stop_process(record)
            raise
        if "kafka" not in healthy:  # a fresh log dir may have lost topics: create missing ones
            create_topics({"bootstrap.servers": self.kafka.bootstrap},
                          topic_layout(self.topics, self.dev.input_partitions),
                          topic_configs(self.topics))
        return self.addresses()

    def _log_sizes(self) -> dict[Path, int]:
        paths = [part.log for part in self._parts().values()]
        return {p: p.stat().st_size if p.exists() else 0 for p in paths}

    def _lost_a_port(self, since: dict[Path, int]) -> bool:
        """Did any part log a bind failure during this attempt?"""
        for path, offset in since.items():
            with contextlib.suppress(OSError), open(path, "rb") as handle:
                handle.seek(offset)
                if _PORT_TAKEN.search(handle.read().decode(errors="replace")):
                    return True
        return False

    def _start_parts(self, log: Callable[[str], None], start: float) -> None:
        """Launch all parts at once, then wait for each; on any failure stop them all."""
        started: list[ProcessRecord] = []
        parts = self._parts()
        try:
            for part in parts.values():
                started.append(part.server.launch(ttl_s=self.ttl_s,
                                                  die_with_parent=self.die_with_parent))
                self._save(started)
            checks = [part.server.ready for part in parts.values()]
            for record, check in zip(started, checks, strict=True):
                waited = wait_until(record.name, check, timeout_s=self.dev.start_timeout_s,
                                    record=record)
                log(f"{record.name} ready after {time.monotonic() - start:.1f}s "
                    f"(waited {waited:.1f}s)")
            create_topics({"bootstrap.servers": self.kafka.bootstrap},
                          topic_layout(self.topics, self.dev.input_partitions),
                          topic_configs(self.topics))
        except BaseException:
            self.down()
            raise

    def _save(self, records: list[ProcessRecord]) -> None:
        (self.state_dir / "processes.json").write_text(
            json.dumps([r.to_json() for r in records], indent=2)
        )

    def _all_healthy(self) -> bool:
        return all(status.healthy for status in self.status())

    def down(self) -> list[str]:
        """Stop exactly the processes this state folder started; returns their names."""
        stopped = []
        for record in reversed(self.records()):
            if record.alive():
                stop_process(record)
                stopped.append(record.name)
        for name in ("processes.json", ADDRESSES_FILE):
            (self.state_dir / name).unlink(missing_ok=True)
        in_memory = self._kafka_data_in_memory()
        if in_memory is not None:
            shutil.rmtree(in_memory, ignore_errors=True)
        return stopped

    def status(self) -> list[PartStatus]:
        records = {r.name: r for r in self.records()}
        out = []
        for name, part in self._parts().items():
            record = records.get(name)
            running = record is not None and record.alive()
            healthy = False
            if running:
                try:
                    healthy = part.server.ready()
                except Exception:
                    healthy = False
            out.append(PartStatus(name, part.address, running, healthy,
                                  record.log if record else ""))
        return out

    def versions(self) -> dict[str, str]:
        return {"kafka": self.kafka.version(), "triton": self.triton.version()}


__all__ = ["DevStack", "PartStatus", "SecuredKafka", "StackAddresses", "StackError",
           "StackOptions"]
