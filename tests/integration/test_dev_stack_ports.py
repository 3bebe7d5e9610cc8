"""A port taken between choosing it and binding it: `up` retries on new ports."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from consumer.settings import load_settings
from devstack import stack as stack_module
from devstack.process import free_port
from devstack.stack import DevStack


def test_up_survives_a_port_taken_before_the_broker_binds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = load_settings()
    state = tmp_path / "state"
    state.mkdir()
    taken = free_port()
    ports = {name: free_port() for name in stack_module._PORT_NAMES}
    ports["kafka"] = taken
    (state / "ports.json").write_text(json.dumps(ports))
    # The check said "free"; by the time Kafka binds, someone else listens there.
    monkeypatch.setattr(stack_module, "port_is_free", lambda port, host="127.0.0.1": True)
    messages: list[str] = []
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        dev = base.dev.model_copy(update={"state_dir": state})
        devstack = DevStack(dev, base.kafka.topics, free_port(), ttl_s=300, die_with_parent=True)
        try:
            addresses = devstack.up(log=messages.append)
            assert addresses.kafka_bootstrap != f"127.0.0.1:{taken}"
            assert all(part.healthy for part in devstack.status())
        finally:
            devstack.down()
    assert any("retrying on new ports" in m for m in messages), messages
