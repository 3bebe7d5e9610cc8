"""A video as a bank entry, as this project writes it: the vPDQ reference tool's file form
(`frame,quality,pdq_hex,timestamp` per line), one file per entry named by its id. Written by
`vmc bank add` and by the decisions consumer; read back by `bank_files`.

The reference form has no label; an entry's label (a case or decision id) goes on a comment
line `# label: ...` first, which the reader takes as the entry's label and other vPDQ tools
skip as a comment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

ENTRY_SUFFIX = ".txt"  # what the vPDQ reference tool's hash files are named
LABEL_PREFIX = "# label: "
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class EntryIdError(ValueError):
    """A name that leaves nothing once made safe for a file name."""


@dataclass(frozen=True)
class BankedFrame:
    """One line of a vPDQ file."""

    frame: int
    quality: int
    pdq: str
    at_s: float


@dataclass(frozen=True)
class Entry:
    """One video as a bank entry."""

    entry_id: str
    frames: list[BankedFrame]
    duration_s: float | None = None
    label: str | None = None


def entry_id_of(name: str) -> str:
    """A file-name-safe entry id (a video id, or a name given): anything but letters, digits,
    `.`, `_` and `-` replaced by `_`."""
    safe = _UNSAFE.sub("_", name).strip("._")
    if not safe:
        raise EntryIdError(f"cannot make an entry id of {name!r}")
    return safe


def vpdq_text(frames: Sequence[BankedFrame], label: str | None = None) -> str:
    """The reference tool's lines, newline-terminated (timestamps to the millisecond), after
    the label's comment line when there is a label (one line: line breaks become spaces)."""
    head = f"{LABEL_PREFIX}{' '.join(label.split())}\n" if label and label.strip() else ""
    return head + "".join(f"{f.frame},{f.quality},{f.pdq},{f.at_s:.3f}\n" for f in frames)
