"""Where the local broker keeps its data: in its home, or on tmpfs for the test stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.settings import load_settings
from devstack.stack import DevStack, StackOptions


def _stack(tmp_path: Path, options: StackOptions) -> DevStack:
    settings = load_settings()
    dev = settings.dev.model_copy(update={"state_dir": tmp_path / "state"})
    return DevStack(dev, settings.kafka.topics, 9108, options=options)


def test_by_default_the_broker_data_stays_in_its_home(tmp_path: Path) -> None:
    broker = _stack(tmp_path, StackOptions()).kafka
    broker.home.mkdir(parents=True)
    assert f"log.dirs={broker.home / 'data'}\n" in broker._write_config().read_text()


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm on this machine")
def test_in_memory_data_lives_on_tmpfs_one_folder_per_stack_and_goes_with_down(
    tmp_path: Path,
) -> None:
    stack = _stack(tmp_path, StackOptions(kafka_data_in_memory=True))
    other = _stack(tmp_path / "other", StackOptions(kafka_data_in_memory=True))
    broker = stack.kafka
    assert broker.data.parent == Path("/dev/shm")
    assert broker.data != other.kafka.data
    broker.home.mkdir(parents=True)
    assert f"log.dirs={broker.data}\n" in broker._write_config().read_text()
    broker.data.mkdir()
    (broker.data / "meta.properties").write_text("x")
    stack.state_dir.mkdir(parents=True, exist_ok=True)
    assert stack.down() == []
    assert not broker.data.exists()


def test_the_in_memory_option_round_trips_with_the_others(tmp_path: Path) -> None:
    options = StackOptions(secured_kafka=True, kafka_data_in_memory=True)
    options.save(tmp_path)
    assert StackOptions.load(tmp_path) == options
