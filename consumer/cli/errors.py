"""How `vmc` ends: every subcommand's error becomes one line on stderr and one exit code,
decided here and nowhere else, so no subcommand prints a traceback for a problem the user can
fix, and a script or a supervisor can tell "fix the command or the settings" from "it failed".

An exception outside the expected family is a bug: one line naming its class and a hint, and
the traceback only when the log level is DEBUG.
"""

from __future__ import annotations

import sys
import traceback
from enum import IntEnum
from typing import TextIO

from consumer.errors import ConfigError, ConsumerError


class ExitCode(IntEnum):
    """`vmc`'s exit statuses (README, "Exit codes", and `vmc --help` list the same)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "done (`dev status`: every part is healthy)",
    ExitCode.FAILED: "it could not be done: a start-up check failed (no GPU or NVDEC for "
    "gpu.decode=nvdec, no libchromaprint, a list or catalogue that cannot be read, a "
    "login the broker refuses), an input could not be processed, the pipeline stopped on a "
    "fatal error, or a bug; `dev status`: a part is down",
    ExitCode.USAGE: "the command line or a setting is invalid (wrong type, out of range, "
    "unknown key, missing config file): found before anything starts",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C) outside `vmc run`, which drains and exits 0",
}

DEBUG_HINT = "rerun with --log-level DEBUG for the traceback"


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit status 1, no traceback."""


class SettingsError(Exception):
    """The settings could not be loaded: exit status 2, nothing was started."""


# Errors raised on purpose: their message is the whole story, with no traceback.
EXPECTED: tuple[type[BaseException], ...] = (UserError, SettingsError, ConsumerError,
                                             ConfigError, OSError)


def one_line(text: str) -> str:
    """A message of several lines (e.g. one per invalid setting) joined into one."""
    parts = [part.strip() for part in text.splitlines() if part.strip()]
    line = parts[0] if parts else ""
    for part in parts[1:]:
        line += (" " if line.endswith(":") else "; ") + part
    return line


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, ConsumerError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def exit_code(exc: BaseException, *, debug: bool = False, stderr: TextIO | None = None) -> int:
    """Report `exc` as `vmc: <message>` on stderr and return the exit status it maps to."""
    out = stderr or sys.stderr
    if isinstance(exc, KeyboardInterrupt):
        print("vmc: interrupted", file=out)
        return ExitCode.INTERRUPTED
    if debug:
        traceback.print_exception(exc, file=out)
    if isinstance(exc, EXPECTED):
        print(f"vmc: {one_line(_message(exc))}", file=out)
        return ExitCode.USAGE if isinstance(exc, SettingsError) else ExitCode.FAILED
    hint = "" if debug else f" ({DEBUG_HINT})"
    print(f"vmc: unexpected error: {type(exc).__name__}: {one_line(str(exc))}{hint}", file=out)
    return ExitCode.FAILED


def epilog() -> str:
    """The exit codes, as `vmc --help` shows them."""
    return "exit codes: " + "; ".join(f"{int(code)} {text}" for code, text in EXIT_CODES.items())
