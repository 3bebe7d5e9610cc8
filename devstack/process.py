"""A server process of the local stack: started detached, logged to a file, stopped exactly.

Each process is wrapped in coreutils `timeout`, so a stack nobody stops still ends by itself
after its time to live. A record of (pid, start time) lets `down` stop exactly the processes
it started, never an unrelated one that reused the pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from consumer.errors import ConsumerError

_PR_SET_PDEATHSIG = 1


class StackError(ConsumerError, RuntimeError):
    """A part of the local stack could not be fetched, started or reached: `vmc dev` reports
    it as one line, like any error of the project's family."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Could a server listen here? With SO_REUSEADDR, as servers bind (Java's do): connections
    of a process that just died linger in TIME_WAIT, and must not make its port look taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` in clock ticks, or None when it is gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies (tests must not leave servers behind)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class ProcessRecord:
    """What identifies one started process, persisted in the stack's state file."""

    name: str
    pid: int
    start_time: int
    log: str

    def alive(self) -> bool:
        return _start_time(self.pid) == self.start_time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    ttl_s: float,
    die_with_parent: bool,
) -> ProcessRecord:
    """Start `argv` detached, stdout and stderr appended to `log`, ended after `ttl_s`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    wrapped = ["timeout", "--kill-after=15", f"{int(ttl_s)}s", *argv]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            wrapped,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=not die_with_parent,
            preexec_fn=_die_with_parent if die_with_parent else None,  # noqa: PLW1509
        )
    started = _start_time(proc.pid)
    if started is None:
        raise StackError(f"{name} exited at once; see {log}")
    return ProcessRecord(name=name, pid=proc.pid, start_time=started, log=str(log))


def stop_process(record: ProcessRecord, timeout_s: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL: only if the pid is still the process we started."""
    if not record.alive():
        return
    os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not record.alive():
            return
        time.sleep(0.1)
    os.kill(record.pid, signal.SIGKILL)
    for _ in range(50):
        _reap(record.pid)
        if not record.alive():
            return
        time.sleep(0.1)


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (else it stays a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(
    what: str,
    check: Callable[[], bool],
    *,
    timeout_s: float,
    record: ProcessRecord | None = None,
    interval_s: float = 0.25,
) -> float:
    """Poll `check` until it holds; fail early if the process died. Returns seconds waited."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except Exception:
            pass
        if record is not None and not record.alive():
            raise StackError(f"{what} exited while starting; last log lines:\n{tail(record.log)}")
        if time.monotonic() - start > timeout_s:
            hint = f"; last log lines:\n{tail(record.log)}" if record else ""
            raise StackError(f"{what} not ready after {timeout_s:.0f}s{hint}")
        time.sleep(interval_s)


def tail(path: str | Path, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
