"""The local stack as one unit: `up`, `down` and `status` over a state folder.

The state folder holds each part's home (config, data, log), `ports.json` (ports stay the same
from one `up` to the next while free), `processes.json` (what `down` stops) and
`addresses.json` (what `vmc` and the tests read to find the stack).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
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
from devstack.process import (
    ProcessRecord,
    StackError,
    free_port,
    port_is_free,
    stop_process,
    wait_until,
)
from devstack.prometheus import PrometheusServer
from devstack.triton import TritonPorts, TritonServer
from triton_models.repository import DEV_ACCEPTED_LICENCES, DEV_MODELS, write_repository

_PORT_NAMES = ("kafka", "kafka_controller", "triton_http", "triton_grpc", "triton_metrics",
               "prometheus")
PORT_RACE_RETRIES = 2
_PORT_TAKEN = re.compile(r"already in use", re.IGNORECASE)


@dataclass(frozen=True)
class StackAddresses:
    """Where each part of a running stack listens."""

    kafka_bootstrap: str
    triton_grpc: str
    triton_http: str
    triton_metrics_url: str
    prometheus_url: str

    def env(self) -> dict[str, str]:
        """The environment that points `vmc` and the tests at this stack."""
        return {
            "VMC_KAFKA__BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "VMC_TRITON__URL": self.triton_grpc,
            "VMC_TRITON__METRICS_URL": self.triton_metrics_url,
            "VMC_PROMETHEUS_URL": self.prometheus_url,
        }


class _Part(Protocol):
    def launch(self, *, ttl_s: float, die_with_parent: bool) -> ProcessRecord: ...


def _ports_free(ports: list[int]) -> bool:
    return all(port_is_free(port) for port in ports)


@dataclass(frozen=True)
class PartStatus:
    name: str
    address: str
    running: bool
    healthy: bool
    log: str


class DevStack:
    """Kafka + tritonserver + Prometheus on loopback, owned through a state folder."""

    def __init__(
        self,
        dev: DevSettings,
        topics: KafkaTopics,
        consumer_metrics_port: int,
        *,
        ttl_s: float | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.dev = dev
        self.topics = topics
        self.consumer_metrics_port = consumer_metrics_port
        self.ttl_s = dev.ttl_s if ttl_s is None else ttl_s
        self.die_with_parent = die_with_parent
        self.state_dir = dev.state_dir
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
        )

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

    def addresses(self) -> StackAddresses:
        return StackAddresses(
            kafka_bootstrap=self.kafka.bootstrap,
            triton_grpc=self.triton.grpc_url,
            triton_http=self.triton.http_url,
            triton_metrics_url=self.triton.metrics_url,
            prometheus_url=self.prometheus.url,
        )

    def records(self) -> list[ProcessRecord]:
        try:
            raw: list[dict[str, Any]] = json.loads((self.state_dir / "processes.json").read_text())
        except (OSError, ValueError):
            return []
        return [ProcessRecord(**item) for item in raw]

    def _checks(self) -> dict[str, Callable[[], bool]]:
        return {"kafka": self.kafka.ready, "triton": self.triton.ready,
                "prometheus": self.prometheus.ready}

    def up(self, log: Callable[[str], None] = lambda _: None) -> StackAddresses:
        """Start what is not running and wait until every part answers; idempotent. Parts
        that died are started again on their own ports, the others left running: clients
        keep working across `up` (addresses never move under them)."""
        records = self.records()
        if records and all(r.alive() for r in records) and self._all_healthy():
            log("stack already up")
            return self.addresses()
        healthy = {part.name for part in self.status() if part.healthy}
        if records and healthy and (self.state_dir / "addresses.json").exists():
            return self._restart_parts(records, healthy, log)
        self.down()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        log(f"fetching Kafka {self.dev.kafka_version} jars (cached in {self.dev.cache_dir})")
        fetch_kafka_jars(self.dev.cache_dir, self.dev.kafka_version)
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
        (self.state_dir / "addresses.json").write_text(
            json.dumps(addresses.__dict__, indent=2)
        )
        log(f"stack up in {time.monotonic() - start:.1f}s")
        return addresses

    def _restart_parts(self, records: list[ProcessRecord], healthy: set[str],
                       log: Callable[[str], None]) -> StackAddresses:
        """Start again, on the same ports, each part that is not healthy."""
        start = time.monotonic()
        parts: dict[str, _Part] = {"kafka": self.kafka, "triton": self.triton,
                                   "prometheus": self.prometheus}
        kept = [r for r in records if r.name in healthy]
        for record in records:
            if record.name not in healthy and record.alive():
                stop_process(record)  # running but not answering: replace it
        restarted = []
        try:
            for name, part in parts.items():
                if name in healthy:
                    continue
                ports = [self.ports[p] for p in _PORT_NAMES if p.startswith(name)]
                wait_until(f"{name}'s ports {ports} to be free",
                           functools.partial(_ports_free, ports),
                           timeout_s=self.dev.start_timeout_s)
                record = part.launch(ttl_s=self.ttl_s, die_with_parent=self.die_with_parent)
                restarted.append(record)
                self._save([*kept, *restarted])
                wait_until(name, self._checks()[name], timeout_s=self.dev.start_timeout_s,
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
        paths = [self.kafka.home / "kafka.log", self.triton.home / "triton.log",
                 self.prometheus.home / "prometheus.log"]
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
        try:
            for part in (self.kafka, self.triton, self.prometheus):
                started.append(part.launch(ttl_s=self.ttl_s, die_with_parent=self.die_with_parent))
                self._save(started)
            for record, check in zip(started, self._checks().values(), strict=True):
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
        for name in ("processes.json", "addresses.json"):
            (self.state_dir / name).unlink(missing_ok=True)
        return stopped

    def status(self) -> list[PartStatus]:
        records = {r.name: r for r in self.records()}
        addresses = {"kafka": self.kafka.bootstrap, "triton": self.triton.grpc_url,
                     "prometheus": self.prometheus.url}
        out = []
        for name, check in self._checks().items():
            record = records.get(name)
            running = record is not None and record.alive()
            healthy = False
            if running:
                try:
                    healthy = check()
                except Exception:
                    healthy = False
            out.append(PartStatus(name, addresses[name], running, healthy,
                                  record.log if record else ""))
        return out

    def versions(self) -> dict[str, str]:
        return {"kafka": self.kafka.version(), "triton": self.triton.version()}


__all__ = ["DevStack", "PartStatus", "StackAddresses", "StackError"]
