"""Print a benchmark's Markdown report and write it to --results, if given."""

from __future__ import annotations

from pathlib import Path


def emit(lines: list[str], results: Path | None) -> None:
    text = "\n".join(lines)
    print(text)
    if results:
        results.write_text(text + "\n")
