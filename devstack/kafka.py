"""A real Apache Kafka broker from Maven Central jars: KRaft combined mode, one node, loopback."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumer.logs import kafka_logged
from consumer.settings import KafkaTopics
from devstack.kafka_security import LISTENER_NAME, SaslSslListener, ScramUser, SecuredKafka
from devstack.process import ProcessRecord, StackError, start_process

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>vmc.devstack</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>2.0.17</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>2.24.3</version></dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: org.apache.kafka.common.utils.AppInfoParser
        level: INFO
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
"""


def kafka_libs_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"kafka-{version}" / "libs"


def fetch_kafka_jars(cache_dir: Path, version: str) -> Path:
    """The broker's runtime classpath folder, fetched once with `mvn` into `cache_dir`."""
    libs = kafka_libs_dir(cache_dir, version)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("mvn not found: install Maven (Debian package 'maven') to fetch Kafka")
    if shutil.which("java") is None:
        raise StackError("java not found: Kafka 4.x needs Java 17 (Debian 'openjdk-17-jre')")
    work = libs.parent
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(_POM.format(version=version))
    if libs.exists():
        shutil.rmtree(libs)
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
         f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or not any(libs.glob(f"kafka_2.13-{version}.jar")):
        raise StackError(f"mvn could not fetch Kafka {version}:\n{result.stdout[-2000:]}")
    marker.touch()
    return libs


DLQ_MAX_MESSAGE_BYTES = 2 * 1024 * 1024


def topic_layout(topics: KafkaTopics, input_partitions: int = 6) -> dict[str, int]:
    """Partitions of the pipeline's topics on a local broker: the input spreads the work."""
    return {topics.input: input_partitions, topics.verdicts: 3, topics.tags: 3, topics.dlq: 3,
            topics.review: 3, topics.decisions: 3, topics.signals: 3, topics.embeddings: 3}


def topic_configs(topics: KafkaTopics) -> dict[str, dict[str, str]]:
    """Topic settings: the DLQ takes a whole copy of any event the consumer accepts by default
    (`pipeline.max_event_bytes` 1 MiB plus headers), where the broker's default would not."""
    return {topics.dlq: {"max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES)},
            topics.signals: {"cleanup.policy": "compact"},  # the latest evidence per video
            topics.embeddings: {"cleanup.policy": "compact"}}  # the latest vector per video


def create_topics(client: Mapping[str, Any], partitions: Mapping[str, int],
                  configs: Mapping[str, Mapping[str, str]] | None = None, *,
                  timeout_s: float = 10) -> None:
    """Create the topics that do not exist yet, replication 1, and wait for them (idempotent);
    `timeout_s` bounds the look at what exists."""
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient(kafka_logged(client))
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    finally:
        admin.poll(0)  # hands its queued log lines (why it failed) to the logger
    wanted = [NewTopic(name, count, 1, config=dict((configs or {}).get(name, {})))
              for name, count in partitions.items() if name not in existing]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, operation_timeout=30).items():
        try:
            future.result(timeout=30)
        except Exception as exc:
            raise StackError(f"could not create topic {name}: {exc}") from exc


@dataclass(frozen=True)
class KafkaPorts:
    broker: int
    controller: int


class KafkaBroker:
    """Formats storage on first start, starts `kafka.Kafka`, waits until metadata answers.

    The storage is formatted with one SCRAM-SHA-512 user (see `kafka_security`); with
    `sasl_ssl_port`, a second listener takes SASL_SSL clients there. Brokers talk to each
    other and to the controller in PLAINTEXT on loopback.
    """

    def __init__(self, home: Path, libs: Path, ports: KafkaPorts, heap_mb: int, *,
                 sasl_ssl_port: int | None = None, data_dir: Path | None = None) -> None:
        self.home = home
        self.data = home / "data" if data_dir is None else data_dir
        self.libs = libs
        self.ports = ports
        self.heap_mb = heap_mb
        self.scram = ScramUser(home / "sasl")
        self.sasl_ssl = (SaslSslListener(home / "tls", sasl_ssl_port, self.scram)
                         if sasl_ssl_port else None)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.broker}"

    @property
    def secured(self) -> SecuredKafka | None:
        """How to reach the SASL_SSL listener, when the broker has one."""
        return self.sasl_ssl.access() if self.sasl_ssl is not None else None

    def _listeners(self) -> dict[str, str]:
        listeners = {"PLAINTEXT": f"127.0.0.1:{self.ports.broker}",
                     "CONTROLLER": f"127.0.0.1:{self.ports.controller}"}
        if self.sasl_ssl is not None:
            listeners[LISTENER_NAME] = self.sasl_ssl.address
        return listeners

    def _write_config(self) -> Path:
        listeners = self._listeners()
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{listeners['CONTROLLER']}",
            "listeners": ",".join(f"{name}://{at}" for name, at in listeners.items()),
            "advertised.listeners": ",".join(f"{name}://{at}" for name, at in listeners.items()
                                             if name != "CONTROLLER"),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(
                f"{name}:{'SASL_SSL' if name == LISTENER_NAME else 'PLAINTEXT'}"
                for name in listeners),
            "log.dirs": str(self.data),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            **(self.sasl_ssl.broker_properties() if self.sasl_ssl is not None else {}),
        }
        path = self.home / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.home / "log4j2.yaml").write_text(_LOG4J2)
        return path

    def _java(self, *args: str) -> list[str]:
        return [
            "java", f"-Xmx{self.heap_mb}m", f"-Xms{min(self.heap_mb, 256)}m", "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
            "-cp", f"{self.libs}/*", *args,
        ]

    def _format_once(self, config: Path) -> None:
        data = self.data
        if (data / "meta.properties").exists():
            if self.sasl_ssl is None or self.scram.exists():
                return
            # Formatted by an earlier dev stack, without the SCRAM user: throw-away dev data,
            # formatted anew (the stack creates its topics again).
            shutil.rmtree(data)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            # `=` form: a base64url id may start with '-' and would read as an option.
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                       f"--config={config}", f"--add-scram={self.scram.format_argument()}"),
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise StackError(f"kafka storage format failed:\n{result.stdout[-1500:]}"
                             f"{result.stderr[-1500:]}")

    def launch(self, *, ttl_s: float, die_with_parent: bool) -> ProcessRecord:
        """Start the process; the caller waits for `ready`."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.sasl_ssl is not None:
            self.sasl_ssl.tls.ensure()
        config = self._write_config()
        self._format_once(config)
        record = start_process(
            "kafka", self._java("kafka.Kafka", str(config)), log=self.home / "kafka.log",
            ttl_s=ttl_s, die_with_parent=die_with_parent,
        )
        return record

    def ready(self) -> bool:
        """Metadata answers; a plain TCP connect first keeps librdkafka from logging refusals."""
        from confluent_kafka.admin import AdminClient

        with socket.create_connection(("127.0.0.1", self.ports.broker), timeout=1):
            pass
        admin = AdminClient(kafka_logged({"bootstrap.servers": self.bootstrap,
                                          "socket.timeout.ms": 2000, "log_level": 2}))
        metadata = admin.list_topics(timeout=2)
        if not metadata.brokers:
            return False
        if self.sasl_ssl is None:
            return True
        # The second listener answers, TLS verifies against our CA, and SCRAM authenticates.
        with socket.create_connection(("127.0.0.1", self.sasl_ssl.port), timeout=1):
            pass
        admin = AdminClient(kafka_logged({**self.sasl_ssl.access().client_config(),
                                          "socket.timeout.ms": 2000, "log_level": 2}))
        return bool(admin.list_topics(timeout=5).brokers)

    def version(self) -> str:
        """The broker's own word on its version (AppInfoParser's log line)."""
        for line in (self.home / "kafka.log").read_text(errors="replace").splitlines()[::-1]:
            if "Kafka version:" in line:
                return line.split("Kafka version:", 1)[1].split()[0]
        return "unknown"
