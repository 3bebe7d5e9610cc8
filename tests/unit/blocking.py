"""Calls that could block forever (a FIFO read, a hung reload), bounded in the tests."""

from __future__ import annotations

import threading
from collections.abc import Callable


def bounded_in_time(fn: Callable[[], object], timeout_s: float = 10) -> object:
    """Runs `fn` in a thread and fails, instead of hanging the suite, if it blocks."""
    result: dict[str, object] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed back to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), f"blocked for more than {timeout_s} s"
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")
