from __future__ import annotations

import json

import pytest

from consumer.cli import build_parser, main
from tests.unit.cli.commands import subcommand_paths


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [path for path, _ in subcommand_paths(build_parser())]
    assert ("dev", "up") in paths and ("config", "show") in paths
    for path in paths:
        with pytest.raises(SystemExit) as exit_:
            main([*path, "--help"])
        assert exit_.value.code == 0
        assert "usage: vmc " + " ".join(path) in capsys.readouterr().out


def test_config_show_prints_json_with_masked_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VMC_KAFKA__CLIENT__SASL_PASSWORD", "pa55-w0rd")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "pa55-w0rd" not in out
    shown = json.loads(out)
    assert shown["kafka"]["client"]["sasl.password"] == "**********"
    assert shown["kafka"]["topics"]["input"] == "video.uploads"


def test_invalid_setting_exits_2_with_one_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VMC_METRICS__PORT", "not-a-port")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vmc: invalid configuration")
    assert "VMC_METRICS__PORT" in err
    assert "Traceback" not in err


def test_version_reports_native_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert set(info) >= {"vmc", "librdkafka", "pyav"}


def test_dev_status_without_stack_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dev", "status"]) == 1
    assert "down" in capsys.readouterr().out
    assert main(["dev", "status", "--env"]) == 1
    assert "not up" in capsys.readouterr().err


def test_dev_without_the_dev_stack_installed_says_so_in_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "devstack" else real(name, *a))
    assert main(["dev", "status"]) == 1
    err = capsys.readouterr().err
    assert "not part of this install" in err and "Traceback" not in err


@pytest.mark.parametrize(("env", "line"), [
    ({"VMC_TRITON__SHARED_MEMORY": "cuda"},
     "vmc: triton.shared_memory=cuda, but GPU 7 cannot be used: "),
    ({"VMC_GPU__DECODE": "nvdec"}, "vmc: gpu.decode=nvdec"),
])
def test_gpu_node_mode_without_the_gpu_stops_in_one_line_before_asking_the_broker(
        env: dict[str, str], line: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from consumer.pipeline import kafka_clients

    def no_broker(*args: object) -> None:
        raise AssertionError("the broker was asked before the GPU was checked")

    monkeypatch.setattr(kafka_clients, "check_credentials", no_broker)
    monkeypatch.setattr("consumer.wiring.check_credentials", no_broker)
    monkeypatch.setenv("VMC_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("VMC_GPU__ID", "7")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1 and "Traceback" not in err
    assert time.monotonic() - started < 10  # no broker timeout was waited for
