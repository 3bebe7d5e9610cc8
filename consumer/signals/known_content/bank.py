"""A bank of known content as matching sees it: entries (a video, or one image hash), each
with its frame hashes, flattened into arrays so a bank of millions of hashes costs their bytes,
not millions of Python objects.

Every hash row `i` belongs to entry `entry_of[i]`. A video entry (a vPDQ file, a JSON list)
has one row per hashed frame with its quality and time; a plain list's line (`hash` or
`hash,label`) is an entry of one row, its time 0 and its duration 0. An entry's id is what
reasons, tags and metrics name so a bad entry can be found and switched off: a vPDQ file's
stem, or for a plain line its hash's hex.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from consumer.signals.known_content.index import HashIndex
from consumer.signals.known_content.parse import Labels
from consumer.signals.known_content.settings import HashListRule

UNKNOWN_QUALITY = 100  # a plain list gives no quality: its hashes are taken as they are

EntryKind = Literal["frame", "video"]


@dataclass(frozen=True)
class Entries:
    """The bank's entries, `E` of them."""

    ids: Labels  # None for a plain list's line: its id is the hash hex (`Bank.entry_id`)
    labels: Labels  # the label a list gives (`hash,label`), or None
    durations_s: npt.NDArray[np.float32]  # [E] last frame time (0 for a one-hash entry)
    frames: npt.NDArray[np.int32]  # [E] how many hashes the entry has

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class Bank:
    """One bank's hashes, as read from its files (`path`: a file, a folder or a prefix)."""

    name: str
    hashes: npt.NDArray[np.uint8]  # [N, 32], bit 255 first like the hex form
    qualities: npt.NDArray[np.uint8]  # [N] PDQ quality 0-100 (UNKNOWN_QUALITY if not given)
    times_s: npt.NDArray[np.float32]  # [N] the frame's time within its entry
    entry_of: npt.NDArray[np.int32]  # [N] the entry each hash belongs to
    entries: Entries
    malformed: int = 0  # lines (or files) skipped as malformed: counted and reported
    files: int = 1  # files read

    def __len__(self) -> int:
        return len(self.hashes)

    def entry_id(self, entry: int) -> str:
        """The entry's id: a video entry's own, else the hex of its only hash."""
        given = self.entries.ids[entry]
        if given is not None:
            return given
        row = int(np.flatnonzero(self.entry_of == entry)[0]) if len(self.entry_of) != len(
            self.entries) else entry
        return str(self.hashes[row].tobytes().hex())

    def entry_kind(self, entry: int) -> EntryKind:
        return "video" if self.entries.ids[entry] is not None else "frame"


def plain_bank(name: str, hashes: npt.NDArray[np.uint8], labels: Labels, *,
               malformed: int = 0) -> Bank:
    """A plain PDQ list as a bank: one entry per hash, in the list's order."""
    count = len(hashes)
    no_ids = Labels(np.zeros(0, np.uint8), np.zeros(count + 1, np.int64))
    return Bank(name, hashes, np.full(count, UNKNOWN_QUALITY, np.uint8),
                np.zeros(count, np.float32), np.arange(count, dtype=np.int32),
                Entries(no_ids, labels, np.zeros(count, np.float32), np.ones(count, np.int32)),
                malformed=malformed)


@dataclass(frozen=True)
class IndexedBank:
    """A bank as served: its rule (settings), its hashes and their index."""

    rule: HashListRule
    bank: Bank
    index: HashIndex
