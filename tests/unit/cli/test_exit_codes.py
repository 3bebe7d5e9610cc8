"""`vmc`'s one error path: every subcommand, run as a user runs it, ends a configuration or
start-up error with one `vmc: ...` line on stderr and the documented exit code, never a
traceback. The subcommands are read from the parser, so a new one is covered by itself."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import consumer.cli
from consumer.cli import build_parser, main
from consumer.cli.errors import DEBUG_HINT, EXIT_CODES, ExitCode
from tests.unit.cli.commands import leaves, required_args, subcommand_paths

ROOT = Path(__file__).resolve().parents[3]

# Subcommands that never decode video: gpu.decode is not theirs to check, so a GPU node's
# settings still work for them on a machine without a GPU (`vmc offsets show` from an
# operator's laptop, `vmc config show` to inspect them). Every other subcommand declares
# `decodes_video` and stops on an unusable gpu.decode before it starts anything.
IGNORE_DECODE_DEVICE = {("version",), ("config", "show"), ("offsets", "show"),
                        ("offsets", "reset"), ("dev", "up"), ("dev", "down"), ("dev", "status"),
                        ("dev", "fetch"), ("dev", "smoke"), ("catalogue", "build"),
                        ("backtest",), ("decisions",), ("calibrate",)}


def _samples(tmp_path: Path) -> dict[str, list[str]]:
    """A value for each required argument of any subcommand (none of them is ever used:
    every run below stops before its handler reads them)."""
    return {"inputs": [str(tmp_path / "video.mp4")], "folder": [str(tmp_path)],
            "out": [str(tmp_path / "music.vmccat")], "from_": ["2024-01-01T00:00:00"],
            "run_id": ["exit-codes"], "to_datetime": ["2024-01-01T00:00:00"],
            "bank": [str(tmp_path / "bank")], "policy": [str(tmp_path / "draft.toml")]}


def _leaves() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found = leaves(build_parser())
    assert {("run",), ("dev", "demo"), ("catalogue", "build")} <= set(found)
    return found


def _decodes(parser: argparse.ArgumentParser) -> bool:
    return bool(parser.get_default("decodes_video"))


def _run_all(commands: list[list[str]], env: dict[str, str]
             ) -> list[subprocess.CompletedProcess[str]]:
    """Each command as its own `python -m consumer` process, a few at a time."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    full |= {"PYTHONPATH": str(ROOT), **env}

    def one(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "consumer", *argv], env=full, cwd=ROOT,
                              text=True, capture_output=True, timeout=180, check=False)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, commands))


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    # No broker answers at 127.0.0.1:1 and no dev stack lives in this state folder: a
    # command that got past its checks could not touch anything real.
    return {"VMC_DEV__STATE_DIR": str(tmp_path / "state"),
            "VMC_DEV__CACHE_DIR": str(tmp_path / "cache"),
            "VMC_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1", **settings}


def _assert_one_line(done: subprocess.CompletedProcess[str], code: int, start: str,
                     path: tuple[str, ...]) -> None:
    what = f"vmc {' '.join(path)}: exit {done.returncode}, stderr {done.stderr!r}"
    assert done.returncode == code, what
    assert "Traceback" not in done.stdout + done.stderr, what
    (line,) = done.stderr.splitlines() or [""]
    assert line.startswith(start), what


@pytest.mark.parametrize(("setting", "message"), [
    ({"VMC_PIPELINE__MAX_INFLIGHT_VIDEOS": "0"}, "vmc: invalid configuration: "
     "pipeline.max_inflight_videos: Input should be greater than 0"),
    ({"VMC_PIPELINE__MAX_INFLIGHT_VIDEOZ": "8"}, "vmc: invalid configuration: "
     "pipeline.max_inflight_videoz: Extra inputs are not permitted"),
], ids=["out-of-range", "unknown-key"])
def test_every_subcommand_stops_on_a_bad_setting_with_one_line_and_exit_2(
        setting: dict[str, str], message: str, tmp_path: Path) -> None:
    found = _leaves()
    argvs = [[*path, *required_args(sub, _samples(tmp_path))] for path, sub in found.items()]
    for path, done in zip(found, _run_all(argvs, _env(tmp_path, **setting)), strict=True):
        _assert_one_line(done, ExitCode.USAGE, message, path)
    assert not (tmp_path / "state").exists(), "a command started something"


def test_which_subcommands_decode_video_is_declared_deliberately() -> None:
    ignoring = {path for path, sub in _leaves().items() if not _decodes(sub)}
    assert ignoring == IGNORE_DECODE_DEVICE, (
        "a new subcommand: set decodes_video=True if it decodes video, else add it to "
        "IGNORE_DECODE_DEVICE")


def test_every_subcommand_that_decodes_stops_on_nvdec_without_a_gpu_with_one_line(
        tmp_path: Path) -> None:
    """gpu.decode=nvdec on this machine (no PyNvVideoCodec or no GPU): one line, exit 1,
    before a broker is asked (replay), a model is built (scan) or the stack starts (demo)."""
    pytest.importorskip("torch")  # consumer.media.nvdec's own import; part of [dev]
    decoding = {path: sub for path, sub in _leaves().items() if _decodes(sub)}
    assert {("run",), ("scan",), ("replay",), ("keyframes",), ("dev", "demo")} <= set(decoding)
    argvs = [[*path, *required_args(sub, _samples(tmp_path))] for path, sub in decoding.items()]
    env = _env(tmp_path, VMC_GPU__DECODE="nvdec", VMC_GPU__ID="7")
    for path, done in zip(decoding, _run_all(argvs, env), strict=True):
        _assert_one_line(done, ExitCode.FAILED, "vmc: gpu.decode=nvdec", path)
    assert not (tmp_path / "state").exists(), "a command started something"
    assert not (tmp_path / "cache").exists(), "a command built something"


def test_subcommands_that_do_not_decode_run_with_a_gpu_nodes_settings(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The same nvdec settings reach the handler of every other subcommand (stubbed here:
    the real ones would ask a broker or start servers)."""
    reached: list[tuple[str, ...]] = []
    real = consumer.cli.build_parser

    def stubbed() -> argparse.ArgumentParser:
        parser = real()
        for path, sub in leaves(parser).items():
            if not _decodes(sub):
                sub.set_defaults(handler=lambda args, settings, path=path: reached.append(
                    path) or int(settings.gpu.decode != "nvdec"))
        return parser

    monkeypatch.setattr(consumer.cli, "build_parser", stubbed)
    monkeypatch.setenv("VMC_GPU__DECODE", "nvdec")
    for path in sorted(IGNORE_DECODE_DEVICE):
        assert main([*path, *required_args(leaves(real())[path], _samples(tmp_path))]) == 0
    assert sorted(reached) == sorted(IGNORE_DECODE_DEVICE)


def test_config_show_of_a_gpu_nodes_settings_works_without_a_gpu(tmp_path: Path) -> None:
    (done,) = _run_all([["config", "show"]], _env(tmp_path, VMC_GPU__DECODE="nvdec"))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert '"decode": "nvdec"' in done.stdout


def _raising(exc: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(args: argparse.Namespace, settings: object) -> int:
        raise exc

    real = consumer.cli.build_parser

    def stubbed() -> argparse.ArgumentParser:
        parser = real()
        leaves(parser)[("version",)].set_defaults(handler=handler)
        return parser

    monkeypatch.setattr(consumer.cli, "build_parser", stubbed)


def test_a_bug_is_one_line_naming_its_class_with_a_hint_and_exit_1(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _raising(ValueError("bad\nstate"), monkeypatch)
    assert main(["version"]) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert err == f"vmc: unexpected error: ValueError: bad; state ({DEBUG_HINT})\n"


def test_a_bug_shows_its_traceback_at_log_level_debug(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _raising(ValueError("bad state"), monkeypatch)
    assert main(["--log-level", "DEBUG", "version"]) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "in handler" in err
    assert err.endswith("vmc: unexpected error: ValueError: bad state\n")
    monkeypatch.setenv("VMC_LOG__LEVEL", "DEBUG")
    assert main(["version"]) == ExitCode.FAILED
    assert capsys.readouterr().err.startswith("Traceback")


@pytest.mark.parametrize(("exc", "code", "line"), [
    (FileNotFoundError(2, "No such file or directory", "/x/music.vmccat"), ExitCode.FAILED,
     "vmc: /x/music.vmccat: No such file or directory"),
    (consumer.cli.UserError("a thing to fix"), ExitCode.FAILED, "vmc: a thing to fix"),
    (KeyboardInterrupt(), ExitCode.INTERRUPTED, "vmc: interrupted"),
], ids=["os-error", "user-error", "interrupt"])
def test_expected_errors_are_one_line_without_a_traceback(
        exc: BaseException, code: int, line: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _raising(exc, monkeypatch)
    assert main(["version"]) == code
    assert capsys.readouterr().err == line + "\n"


def test_the_readme_and_vmc_help_document_the_same_exit_codes(
        capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Exit codes"):]
    rows = re.findall(r"^\| `(\d+)` \|", section, re.M)
    assert [int(code) for code in rows[:len(EXIT_CODES)]] == [int(c) for c in EXIT_CODES]
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    for code in EXIT_CODES:
        assert re.search(rf"^  {int(code)}\s", shown, re.M), shown


def test_no_help_text_tells_history(capsys: pytest.CaptureFixture[str]) -> None:
    """Help says what a command does, not which issue or step brought it."""
    for path in [(), *(path for path, _ in subcommand_paths(build_parser()))]:
        with pytest.raises(SystemExit):
            main([*path, "--help"])
        shown = capsys.readouterr().out
        assert shown.startswith("usage: vmc")
        assert not re.search(r"\bissues? *#?\d+|\(issue|\bstop \d+\b|previous stop", shown,
                             re.I), f"vmc {' '.join(path)} --help: {shown}"
