"""Faults the way they happen to an operator: Triton frozen, Triton back without its model,
the output topic deleted, a broker that dies and is brought back by `vmc dev up`."""

from __future__ import annotations

import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from consumer.logs import kafka_logged
from consumer.settings import KafkaTopics, Settings, load_settings
from devstack.process import free_port, wait_until
from devstack.stack import DevStack, StackAddresses
from tests.integration.conftest import PrivateTriton, RunningStack
from tests.integration.pipeline.conftest import (
    VmcProcess,
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    uploads,
    verdict_ids_by_video,
    wait_committed_to_end,
    wait_for_records,
)


def _server_pid(wrapper: int) -> int:
    """The server itself: a part's record is its `timeout` (TTL) wrapper."""
    children = Path(f"/proc/{wrapper}/task/{wrapper}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _status(url: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            code = resp.status
    except urllib.error.HTTPError as err:
        code = err.code
    return code, time.monotonic() - started


def _exactly_once(settings: Settings, topics: KafkaTopics, n: int) -> None:
    """Every video has a verdict, duplicates (at-least-once) share their verdict id, and
    nothing went to the DLQ: a fault of ours is never the event's."""
    by_video = verdict_ids_by_video(read_topic(settings, topics.verdicts, expect=n))
    assert set(by_video) == {f"v{i}" for i in range(n)}
    assert all(len(ids) == 1 for ids in by_video.values())
    assert read_topic(settings, topics.dlq, expect=0, timeout_s=3) == []


def test_a_frozen_triton_keeps_readyz_answering_and_loses_nothing(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    private_triton: PrivateTriton,
) -> None:
    port = free_port()
    settings = pipeline_settings(stack, topics, group=unique,
                                 triton={"url": private_triton.url, "timeout_s": 3},
                                 metrics={"host": "127.0.0.1", "port": port})
    n = 30
    events = uploads(sample_videos, n)
    base = f"http://127.0.0.1:{port}"
    assert private_triton.record is not None
    with running_pipeline(settings, observe=True):
        produce(settings, events[:10])
        wait_for_records(settings, topics.verdicts, 10, timeout_s=120)
        server = _server_pid(private_triton.record.pid)
        os.kill(server, signal.SIGSTOP)
        try:
            produce(settings, events[10:])
            answers = []
            for _ in range(12):  # ~12 s of freeze, probed as a kubelet would
                answers.append((_status(f"{base}/readyz"), _status(f"{base}/healthz")))
                time.sleep(1)
        finally:
            os.kill(server, signal.SIGCONT)
        wait_for_records(settings, topics.verdicts, n, timeout_s=240)
        wait_committed_to_end(settings, unique)
    slowest = max(max(ready[1], live[1]) for ready, live in answers)
    assert slowest < 1.0, f"a probe took {slowest:.2f} s during the freeze"
    assert all(live[0] == 200 for _, live in answers), "liveness never depends on Triton"
    assert answers[-1][0][0] == 503, "a frozen Triton is not ready"
    _exactly_once(settings, topics, n)
    print(f"\n[fault] triton frozen 12 s: {n}/{n} verdicts, slowest probe {slowest:.3f} s")


def test_triton_back_without_its_model_pauses_until_the_model_returns(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path,
) -> None:
    assert stack.model_repository is not None
    repository = tmp_path / "models"
    repository.mkdir()
    model = "nsfw_classifier"
    shutil.copytree(stack.model_repository / model, repository / model)
    triton = PrivateTriton(tmp_path / "triton", repository)
    triton.start()
    port = free_port()
    settings = pipeline_settings(stack, topics, group=unique,
                                 triton={"url": triton.url, "timeout_s": 5},
                                 metrics={"host": "127.0.0.1", "port": port})
    n = 20
    events = uploads(sample_videos, n)
    try:
        with running_pipeline(settings, observe=True) as pipeline:
            produce(settings, events[:10])
            wait_for_records(settings, topics.verdicts, 10, timeout_s=120)
            triton.stop()
            shutil.rmtree(repository / model)
            triton.start()  # up and healthy, but without the model
            produce(settings, events[10:])
            wait_until("partitions paused", lambda: bool(pipeline.partitions.paused),
                       timeout_s=60)
            time.sleep(3)
            assert len(read_topic(settings, topics.verdicts, expect=10, timeout_s=5)) == 10
            code, _ = _status(f"http://127.0.0.1:{port}/readyz")
            assert code == 503
            triton.stop()
            shutil.copytree(stack.model_repository / model, repository / model)
            triton.start()
            wait_for_records(settings, topics.verdicts, n, timeout_s=240)
            wait_committed_to_end(settings, unique)
    finally:
        triton.stop()
    _exactly_once(settings, topics, n)


def test_an_output_topic_deleted_mid_run_stops_the_consumer_with_one_line(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path,
) -> None:
    settings = pipeline_settings(stack, topics, group=unique,
                                 kafka={"client": {"topic.metadata.propagation.max.ms": 2000}})
    events = uploads(sample_videos, 20)
    log = tmp_path / "run.log"
    run = VmcProcess(settings, log)
    try:
        produce(settings, events[:5])
        wait_for_records(settings, topics.verdicts, 5, timeout_s=120)
        admin = AdminClient(kafka_logged(settings.kafka.librdkafka_config()))
        admin.delete_topics([topics.verdicts], operation_timeout=30)[topics.verdicts].result(30)
        produce(settings, events[5:])
        code = run.wait(180)
    finally:
        run.stop()
    text = log.read_text()
    assert code == 1, text[-3000:]
    assert "Traceback" not in text
    (line,) = [x for x in text.splitlines() if "stopped on a fatal error" in x]
    assert f"delivery to {topics.verdicts} failed" in line, text[-3000:]


def test_a_broker_that_died_comes_back_on_its_address_and_clients_recover(
    tmp_path: Path, sample_videos: list[Path], unique: str,
) -> None:
    base = load_settings()
    dev = base.dev.model_copy(update={"state_dir": tmp_path / "state", "input_partitions": 3})
    topics = KafkaTopics(input=f"{unique}.in", verdicts=f"{unique}.verdicts",
                         tags=f"{unique}.tags", dlq=f"{unique}.dlq")
    devstack = DevStack(dev, topics, free_port(), ttl_s=600, die_with_parent=True)
    first = devstack.up()
    try:
        settings = pipeline_settings(_Stack(first), topics, group=unique)
        n = 30
        events = uploads(sample_videos, n)
        others = {r.name: r.pid for r in devstack.records() if r.name != "kafka"}
        with running_pipeline(settings):
            produce(settings, events[:10])
            wait_for_records(settings, topics.verdicts, 10, timeout_s=120)
            broker = next(r for r in devstack.records() if r.name == "kafka")
            os.kill(_server_pid(broker.pid), signal.SIGKILL)  # as an OOM kill would
            wait_until("broker gone", lambda: not broker.alive(), timeout_s=30)
            time.sleep(2)
            started = time.monotonic()
            again = devstack.up()
            restart_s = time.monotonic() - started
            assert again == first, "every part keeps its address"
            assert {r.name: r.pid for r in devstack.records() if r.name != "kafka"} == others, \
                "the parts that were fine are left running"
            produce(settings, events[10:])
            wait_for_records(settings, topics.verdicts, n, timeout_s=240)
            wait_committed_to_end(settings, unique)
        _exactly_once(settings, topics, n)
        print(f"\n[fault] broker killed, back on its address by `up` in {restart_s:.1f} s: "
              f"{n}/{n} videos, one verdict id each")
    finally:
        devstack.down()


class _Stack:
    """Enough of RunningStack for pipeline_settings: the addresses of a stack."""

    def __init__(self, addresses: StackAddresses) -> None:
        self.addresses = addresses
