"""The banks decisions write: vPDQ entries put into and taken out of a folder or an object
store prefix (local path, `s3://`, `gs://`).

An entry is written in the lines `vmc bank add` writes (consumer.cli.bank: the vPDQ reference
tool's `frame,quality,pdq_hex,timestamp`; the command line imports this package, so the few
lines are repeated here, and a test reads them back with the banks' own parser), to a
dot file first (bank loaders skip dot files) and then moved into place: atomic on a local
file system; on an object store the move is a copy, and a reload that lists the prefix in
between sees the whole file or none. A confirmed entry is named after the video; an allow
entry after the bank and entry it copies (`<bank>.<entry>`), so two banks' entries of the
same name stay apart.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from consumer.data_files import filesystem, is_uri
from consumer.signals.known_content.bank_files import read_bank
from consumer.signals.known_content.entries import (
    ENTRY_SUFFIX,
    BankedFrame,
    Entry,
    EntryIdError,
    vpdq_text,
)
from consumer.signals.known_content.entries import entry_id_of as safe_entry_id
from consumer.signals.known_content.settings import HashListRule


def entry_id_of(name: str) -> str:
    """A file-name-safe entry id, as `vmc bank add` makes one."""
    try:
        return safe_entry_id(name)
    except EntryIdError as exc:
        raise BankWriteError(str(exc)) from exc



class BankWriteError(Exception):
    """A decision's bank change could not be made (the store refused): the decision goes to
    the DLQ, to be sent again."""

    reason = "bank_write"


class NothingToBank(BankWriteError):
    """There is nothing to bank (no frame hashes recorded, the entry gone): sending the
    decision again would not help; it is recorded and counted."""

    reason = "nothing_to_bank"


def entry_of_frames(entry_id: str, frames: Mapping[str, Any],
                    label: str | None = None) -> Entry:
    """A confirmed entry from a signals record's `frames` (at_s, pdq, quality, aligned):
    the frames hashed (pdq not "") in time order; `label`: the deciding decision's id."""
    at_s, pdq, quality = (frames.get(k) or [] for k in ("at_s", "pdq", "quality"))
    rows = sorted((float(t), str(h).lower(), int(q))
                  for t, h, q in zip(at_s, pdq, quality, strict=False)
                  if h and math.isfinite(float(t)))
    if not rows:
        raise NothingToBank(f"{entry_id}: the verdict's signals carry no frame hashes "
                             "(signals.known_content.frame_hashes off?)")
    return Entry(entry_id_of(entry_id),
                 [BankedFrame(i, q, h, t) for i, (t, h, q) in enumerate(rows)], label=label)


def entry_from_bank(bank: str, path: str, entry: str, label: str | None = None) -> Entry:
    """A copy of one entry of a served bank, read as the consumer reads it; `label`: the
    deciding decision's id."""
    read = read_bank(HashListRule(name=bank, path=path, allow_empty=True)).bank
    ids = [read.entry_id(i) for i in range(len(read.entries))]
    if entry not in ids:
        raise NothingToBank(f"bank {bank} ({path}) has no entry {entry!r} (removed since?)")
    rows = np.flatnonzero(read.entry_of == ids.index(entry))
    frames = [BankedFrame(n, int(read.qualities[r]), read.hashes[r].tobytes().hex(),
                          float(read.times_s[r])) for n, r in enumerate(rows)]
    return Entry(entry_id_of(f"{bank}.{entry}"), frames, label=label)


def _target(folder: str, entry_id: str) -> str:
    return f"{folder.rstrip('/')}/{entry_id}{ENTRY_SUFFIX}"


def put_entry(folder: str, entry: Entry) -> str:
    """Write (or overwrite) the entry's vPDQ file in the bank folder; returns its path."""
    target, text = _target(folder, entry.entry_id), vpdq_text(entry.frames, entry.label)
    temporary = _target(folder, f".{entry.entry_id}.{uuid.uuid4().hex[:8]}.partial")
    try:
        if is_uri(folder):
            fs = filesystem(folder)
            fs.pipe_file(temporary, text.encode("ascii"))
            fs.mv(temporary, target)
            return target
        local = Path(folder.removeprefix("file://"))
        local.mkdir(parents=True, exist_ok=True)
        temporary, target = temporary.removeprefix("file://"), target.removeprefix("file://")
        with open(temporary, "w", encoding="ascii", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
        return target
    except OSError as exc:
        raise BankWriteError(f"cannot write {target}: {exc}") from exc
    finally:
        if not is_uri(folder):
            Path(temporary).unlink(missing_ok=True)


def remove_entry(folder: str, entry_id: str) -> bool:
    """Take the entry's file out of the bank; False when it was not there."""
    target = _target(folder, entry_id_of(entry_id))
    try:
        if is_uri(folder):
            fs = filesystem(folder)
            if not fs.exists(target):
                return False
            fs.rm_file(target)
            return True
        local = Path(target.removeprefix("file://"))
        existed = local.exists()
        local.unlink(missing_ok=True)
        return existed
    except OSError as exc:
        raise BankWriteError(f"cannot remove {target}: {exc}") from exc
