"""`vmc run` against the broker's SASL_SSL listener (SCRAM-SHA-512 over TLS, the production
shape), configured only through the five VMC_KAFKA__CLIENT__* variables: events in, one
verdict each, offsets committed; a wrong password stops start-up with one line; the password
shows in no log line, metric or `vmc config show`."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer.settings import KafkaTopics, Settings, load_settings
from devstack.kafka import create_topics, topic_configs, topic_layout
from devstack.process import free_port, wait_until
from devstack.stack import SecuredKafka
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    produce,
    read_topic,
    uploads,
    verdict_ids_by_video,
    wait_committed_to_end,
)

START_FAILURE_LIMIT_S = 15.0


@pytest.fixture(scope="module")
def secured(stack: RunningStack) -> SecuredKafka:
    if stack.secured is None:
        pytest.skip("the running stack has no SASL_SSL listener: test against the own stack, "
                    "or one started with `vmc dev up --secured`")
    return stack.secured


@pytest.fixture
def secured_topics(secured: SecuredKafka, unique: str) -> KafkaTopics:
    """Fresh topics, created over the SASL_SSL listener itself."""
    names = KafkaTopics(input=f"{unique}.in", verdicts=f"{unique}.verdicts",
                        tags=f"{unique}.tags", dlq=f"{unique}.dlq")
    create_topics(secured.client_config(), topic_layout(names), topic_configs(names))
    return names


def _client_settings(secured: SecuredKafka, topics: KafkaTopics, group: str) -> Settings:
    """The test's own producer and readers: SASL_SSL too, with the real password."""
    client = {k: v for k, v in secured.client_config().items() if k != "bootstrap.servers"}
    return load_settings(kafka={"bootstrap_servers": secured.bootstrap, "group_id": group,
                                "topics": topics.model_dump(), "client": client})


def _vmc_env(stack: RunningStack, secured: SecuredKafka, topics: KafkaTopics, group: str,
             password: str, state_dir: Path, metrics_port: int) -> dict[str, str]:
    """`vmc`'s environment: the SASL_SSL listener set by the five client variables alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env.update({
        "VMC_KAFKA__BOOTSTRAP_SERVERS": secured.bootstrap,
        "VMC_KAFKA__CLIENT__SECURITY_PROTOCOL": "SASL_SSL",
        "VMC_KAFKA__CLIENT__SASL_MECHANISM": secured.mechanism,
        "VMC_KAFKA__CLIENT__SASL_USERNAME": secured.username,
        "VMC_KAFKA__CLIENT__SASL_PASSWORD": password,
        "VMC_KAFKA__CLIENT__SSL_CA_LOCATION": str(secured.ca_location),
        "VMC_KAFKA__GROUP_ID": group,
        "VMC_KAFKA__TOPICS__INPUT": topics.input,
        "VMC_KAFKA__TOPICS__VERDICTS": topics.verdicts,
        "VMC_KAFKA__TOPICS__TAGS": topics.tags,
        "VMC_KAFKA__TOPICS__DLQ": topics.dlq,
        "VMC_TRITON__URL": stack.addresses.triton_grpc,
        "VMC_SAMPLING__MAX_KEYFRAMES": "2",
        "VMC_SOURCE__ALLOWED_SCHEMES": '["file"]',
        "VMC_PIPELINE__COMMIT_INTERVAL_S": "0.5",
        "VMC_METRICS__HOST": "127.0.0.1",
        "VMC_METRICS__PORT": str(metrics_port),
        "VMC_METRICS__STATISTICS_INTERVAL_S": "1",
        # No dev stack's addresses.json behind the settings' back: only what is set here.
        "VMC_DEV__STATE_DIR": str(state_dir),
    })
    return env


class _Vmc:
    """`vmc ARGS` in a subprocess, stdout and stderr kept apart in files."""

    def __init__(self, env: dict[str, str], folder: Path, *args: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.stdout, self.stderr = folder / "stdout.log", folder / "stderr.log"
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "consumer", *args], env=env,
                                         stdout=out, stderr=err, start_new_session=True)

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture
def vmc_processes() -> Iterator[list[_Vmc]]:
    started: list[_Vmc] = []
    yield started
    for process in started:
        process.close()


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text: str = resp.read().decode()
        return text


def test_vmc_run_over_sasl_ssl_scram_gives_one_verdict_per_event_and_commits(
    stack: RunningStack, secured: SecuredKafka, secured_topics: KafkaTopics,
    sample_videos: list[Path], unique: str, tmp_path: Path, vmc_processes: list[_Vmc],
) -> None:
    password = secured.password()
    settings = _client_settings(secured, secured_topics, unique)
    n = 6
    produce(settings, uploads(sample_videos, n))
    port = free_port()
    run = _Vmc(_vmc_env(stack, secured, secured_topics, unique, password, tmp_path / "state",
                        port), tmp_path / "run", "--log-level", "DEBUG", "run")
    vmc_processes.append(run)
    verdicts = read_topic(settings, secured_topics.verdicts, expect=n, timeout_s=180)
    wait_committed_to_end(settings, unique)
    # librdkafka's statistics (lag per partition) reach the metrics too: wait for them.
    wait_until("consumer lag from librdkafka statistics",
               lambda: "consumer_lag_messages{" in _metrics(port), timeout_s=30)
    metrics = _metrics(port)
    run.proc.send_signal(signal.SIGTERM)
    assert run.proc.wait(90) == 0, run.output()[-3000:]

    by_video = verdict_ids_by_video(verdicts)
    assert len(verdicts) == n and set(by_video) == {f"v{i}" for i in range(n)}
    assert all(len(ids) == 1 for ids in by_video.values())
    assert read_topic(settings, secured_topics.dlq, expect=0, timeout_s=3) == []
    logs = run.output()
    assert "Traceback" not in logs
    assert password not in logs, "the SCRAM password is in a log line"
    assert password not in metrics, "the SCRAM password is in a metric"


def test_vmc_run_with_a_wrong_scram_password_stops_at_start_with_one_line(
    stack: RunningStack, secured: SecuredKafka, secured_topics: KafkaTopics, unique: str,
    tmp_path: Path, vmc_processes: list[_Vmc],
) -> None:
    wrong = f"wrong-{secrets.token_urlsafe(12)}"
    started = time.monotonic()
    run = _Vmc(_vmc_env(stack, secured, secured_topics, unique, wrong, tmp_path / "state",
                        free_port()), tmp_path / "run", "run")
    vmc_processes.append(run)
    code = run.proc.wait(START_FAILURE_LIMIT_S + 30)
    elapsed = time.monotonic() - started
    stderr = run.stderr.read_text()
    assert code == 1, run.output()[-3000:]
    assert elapsed < START_FAILURE_LIMIT_S, f"start-up failed only after {elapsed:.1f} s"
    assert "Traceback" not in stderr
    (line,) = [x for x in stderr.splitlines() if "authentication" in x.lower()]
    assert line.startswith("vmc: Kafka authentication failed"), line
    assert secured.bootstrap in line and "SCRAM-SHA-512" in line, line
    output = run.output()
    assert wrong not in output and secured.password() not in output
    print(f"\n[scram] wrong password: exit {code} after {elapsed:.1f} s: {line}")


def test_config_show_masks_the_real_scram_password(
    stack: RunningStack, secured: SecuredKafka, secured_topics: KafkaTopics, unique: str,
    tmp_path: Path,
) -> None:
    password = secured.password()
    env = _vmc_env(stack, secured, secured_topics, unique, password, tmp_path / "state",
                   free_port())
    shown = subprocess.run([sys.executable, "-m", "consumer", "config", "show"], env=env,
                           capture_output=True, text=True, timeout=60, check=True)
    assert password not in shown.stdout + shown.stderr
    client = json.loads(shown.stdout)["kafka"]["client"]
    assert client["sasl.password"] == "**********"
    assert client["sasl.username"] == secured.username
    assert client["ssl.ca.location"] == str(secured.ca_location)
