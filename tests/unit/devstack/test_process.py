from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from devstack.process import (
    ProcessRecord,
    StackError,
    free_port,
    port_is_free,
    start_process,
    stop_process,
    wait_until,
)


def test_stop_process_stops_exactly_the_started_process(tmp_path: Path) -> None:
    record = start_process("sleeper", ["sleep", "60"], log=tmp_path / "s.log", ttl_s=60,
                           die_with_parent=True)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        assert record.alive()
        stop_process(record)
        assert not record.alive()
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_reused_pid_is_not_taken_for_ours(tmp_path: Path) -> None:
    record = start_process("sleeper", ["sleep", "60"], log=tmp_path / "s.log", ttl_s=60,
                           die_with_parent=True)
    impostor = ProcessRecord("sleeper", record.pid, record.start_time + 1, record.log)
    try:
        assert not impostor.alive()
        stop_process(impostor)
        assert record.alive()
    finally:
        stop_process(record)


def test_ttl_ends_a_forgotten_process(tmp_path: Path) -> None:
    record = start_process("sleeper", ["sleep", "60"], log=tmp_path / "s.log", ttl_s=1,
                           die_with_parent=True)
    wait_until("ttl expiry", lambda: not record.alive(), timeout_s=10)


def test_wait_until_reports_the_log_of_a_dead_process(tmp_path: Path) -> None:
    record = start_process("crasher", ["sh", "-c", "echo boom-reason; sleep 0.3; exit 3"],
                           log=tmp_path / "c.log", ttl_s=60, die_with_parent=True)
    with pytest.raises(StackError, match="boom-reason"):
        wait_until("crasher", lambda: False, timeout_s=10, record=record)


def test_wait_until_times_out_with_a_clear_message() -> None:
    start = time.monotonic()
    with pytest.raises(StackError, match="not ready after"):
        wait_until("never", lambda: False, timeout_s=0.3, interval_s=0.05)
    assert time.monotonic() - start < 5


def test_free_port_is_free_until_bound() -> None:
    import socket

    port = free_port()
    assert port_is_free(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert not port_is_free(port)


def test_die_with_parent_reaches_the_child_of_a_dead_parent(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "from pathlib import Path; from devstack.process import start_process;"
        f"r = start_process('s', ['sleep', '60'], log=Path('{tmp_path}/x.log'), ttl_s=60,"
        " die_with_parent=True);"
        f"Path('{pidfile}').write_text(f'{{r.pid}} {{r.start_time}}')"
    )
    subprocess.run(["python", "-c", script], check=True, env={**os.environ})
    pid, start = (int(x) for x in pidfile.read_text().split())
    record = ProcessRecord("s", pid, start, "")
    wait_until("orphan ends", lambda: not record.alive(), timeout_s=10)


def test_storage_format_accepts_a_cluster_id_that_starts_with_a_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import uuid

    from consumer.settings import DevSettings
    from devstack.kafka import KafkaBroker, KafkaPorts, kafka_libs_dir

    libs = kafka_libs_dir(DevSettings().cache_dir, DevSettings().kafka_version)
    if not (libs / ".complete").exists() or shutil.which("java") is None:
        pytest.fail(f"Kafka jars missing in {libs}: run `vmc dev fetch` (bootstrap does)")
    dashed = uuid.UUID(bytes=bytes.fromhex("fb") + bytes(15))  # base64url: "-w..."
    monkeypatch.setattr(uuid, "uuid4", lambda: dashed)
    broker = KafkaBroker(tmp_path / "kafka", libs, KafkaPorts(19092, 19093), heap_mb=128)
    broker.home.mkdir()
    broker._format_once(broker._write_config())
    assert (tmp_path / "kafka" / "data" / "meta.properties").exists()
