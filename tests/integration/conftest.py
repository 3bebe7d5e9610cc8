"""Session fixtures that start the real local stack once (Kafka, tritonserver, Prometheus).

If VMC_KAFKA__BOOTSTRAP_SERVERS and VMC_TRITON__URL are set (e.g. `eval "$(vmc dev status
--env)"`), the tests use that stack instead. A part that cannot start fails the session with
its log; nothing is skipped silently.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from consumer.settings import KafkaTopics, Settings, load_settings
from devstack.kafka import create_topics, topic_configs, topic_layout
from devstack.process import (
    ProcessRecord,
    StackError,
    free_port,
    stop_process,
    wait_until,
)
from devstack.samples import make_video
from devstack.stack import DevStack, SecuredKafka, StackAddresses, StackOptions

STACK_BANNER = pytest.StashKey[str]()
KAFKA_LOG = pytest.StashKey[Path]()
BROKER_LINES_ON_FAILURE = 15


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Name the real servers the integration tests talked to, at the end of every run."""
    banner = config.stash.get(STACK_BANNER, None)
    if banner:
        terminalreporter.write_line(f"[stack] integration tests ran against: {banner}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test shows the broker's last warnings: a stalled or fenced broker (slow
    controller events, expired heartbeats) reads differently from a consumer's bug."""
    outcome: Any = yield
    report = outcome.get_result()
    log = item.config.stash.get(KAFKA_LOG, None)
    if not report.failed or log is None:
        return
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return
    warnings = [line for line in lines if " WARN " in line or " ERROR " in line]
    if warnings:
        report.sections.append(("broker warnings (last lines of kafka.log)",
                                "\n".join(warnings[-BROKER_LINES_ON_FAILURE:])))


@dataclass(frozen=True)
class RunningStack:
    addresses: StackAddresses
    consumer_metrics_port: int
    versions: dict[str, str]
    model_repository: Path | None = None
    secured: SecuredKafka | None = None  # the broker's SASL_SSL listener (own stack only)


def _external_stack() -> RunningStack | None:
    bootstrap = os.environ.get("VMC_KAFKA__BOOTSTRAP_SERVERS")
    triton = os.environ.get("VMC_TRITON__URL")
    if not (bootstrap and triton):
        return None
    addresses = StackAddresses(
        kafka_bootstrap=bootstrap,
        triton_grpc=triton,
        triton_http="",
        triton_metrics_url=os.environ.get("VMC_TRITON__METRICS_URL", ""),
        prometheus_url=os.environ.get("VMC_PROMETHEUS_URL", ""),
    )
    port = int(os.environ.get("VMC_METRICS__PORT", "9108"))
    return RunningStack(addresses, port, {"kafka": "external", "triton": _triton_version(triton)})


def _triton_version(url: str) -> str:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)
    return str(client.get_server_metadata().version)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory,
          pytestconfig: pytest.Config) -> Iterator[RunningStack]:
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")

    def say(message: str) -> None:
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"[stack] {message}")

    external = _external_stack()
    if external is not None:
        say(f"using the running stack: {external.addresses}")
        yield external
        return
    base = load_settings()
    dev = base.dev.model_copy(update={"state_dir": tmp_path_factory.mktemp("stack")})
    metrics_port = free_port()
    # With the SASL_SSL listener (SCRAM-SHA-512): it costs the broker's start well under 1 s.
    # The broker's data on tmpfs: a busy disk once stalled its metadata fsyncs for minutes.
    devstack = DevStack(dev, base.kafka.topics, metrics_port,
                        options=StackOptions(secured_kafka=True, kafka_data_in_memory=True),
                        ttl_s=3600,
                        die_with_parent=True)
    try:
        addresses = devstack.up(log=say)
    except StackError as exc:
        pytest.fail(f"the local stack could not start: {exc}", pytrace=False)
    versions = devstack.versions()
    banner = (f"Apache Kafka {versions['kafka']} (KRaft) at {addresses.kafka_bootstrap} "
              f"(SASL_SSL at {addresses.kafka_sasl_ssl}); "
              f"tritonserver {versions['triton']} at {addresses.triton_grpc}; "
              f"Prometheus at {addresses.prometheus_url}")
    say(banner)
    pytestconfig.stash[STACK_BANNER] = banner
    pytestconfig.stash[KAFKA_LOG] = devstack.kafka.home / "kafka.log"
    try:
        yield RunningStack(addresses, metrics_port, versions, dev.state_dir / "models",
                           devstack.secured_kafka())
    finally:
        devstack.down()


@pytest.fixture(scope="session")
def sample_videos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three small H.264 clips with different content, 2 s each, keyframe every 0.5 s."""
    folder = tmp_path_factory.mktemp("videos")
    return [make_video(folder / f"clip{i}.mp4", seed=i) for i in range(3)]


@pytest.fixture
def topics(stack_settings: Settings, unique: str) -> KafkaTopics:
    """Fresh input (6 partitions) and output topics for one test."""
    names = KafkaTopics(input=f"{unique}.in", verdicts=f"{unique}.verdicts",
                        tags=f"{unique}.tags", dlq=f"{unique}.dlq",
                        signals=f"{unique}.signals")
    create_topics(stack_settings.kafka.librdkafka_config(), topic_layout(names),
                  topic_configs(names))
    return names


@pytest.fixture(scope="session")
def stack_settings(stack: RunningStack) -> Settings:
    """Settings pointing at the test stack, as `vmc` would build them from its env exports."""
    return load_settings(
        kafka={"bootstrap_servers": stack.addresses.kafka_bootstrap},
        triton={"url": stack.addresses.triton_grpc,
                "metrics_url": stack.addresses.triton_metrics_url},
        metrics={"port": stack.consumer_metrics_port},
    )


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A name no other test uses: for consumer groups and scratch topics."""
    # A random suffix: id(request) repeats when the next test's request lands at a freed
    # address, and two parametrized cases then shared their topics and group.
    return f"t-{request.node.name[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}".replace("[", "-") \
        .replace("]", "")


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


class PrivateTriton:
    """A tritonserver of one test's own, on the stack's model repository: stop it at will."""

    def __init__(self, home: Path, model_repository: Path) -> None:
        from devstack.triton import TritonPorts, TritonServer

        ports = TritonPorts(free_port(), free_port(), free_port())
        self.server = TritonServer(home, model_repository, ports)
        self.record: ProcessRecord | None = None

    @property
    def url(self) -> str:
        return self.server.grpc_url

    def start(self) -> None:
        self.record = self.server.launch(ttl_s=900, die_with_parent=True)
        wait_until("private tritonserver", self.server.ready, timeout_s=120, record=self.record)

    def stop(self) -> None:
        if self.record is not None:
            stop_process(self.record)


@pytest.fixture
def private_triton(stack: RunningStack, tmp_path: Path) -> Iterator[PrivateTriton]:
    if stack.model_repository is None:
        pytest.fail("a private tritonserver needs the stack's model repository (own stack)")
    triton = PrivateTriton(tmp_path / "triton", stack.model_repository)
    triton.start()
    try:
        yield triton
    finally:
        triton.stop()
