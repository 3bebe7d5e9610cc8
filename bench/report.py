"""Print a benchmark's Markdown report and write it to --results, if given."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def best_s(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` calls, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def emit(lines: list[str], results: Path | None) -> None:
    text = "\n".join(lines)
    print(text)
    if results:
        results.write_text(text + "\n")
