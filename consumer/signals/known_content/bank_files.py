"""A bank's files -> one `Bank`: a rule's `path` (a file, a folder, or an fsspec object or
prefix) may mix plain lists (`hash` or `hash,label` per line, one entry per line) and vPDQ
files (one video entry each, its stem the id; where two files of a folder share a stem, their
paths in the folder without the suffix), each file's format told by its content.

Bounds, so that a bank from many hands can only be refused: `max_bytes` for all its files
together, `max_files` files at most, files read one at a time (a folder costs its largest file,
not its sum). Bad lines are skipped and counted (`Bank.malformed`); a bank with more than
`max_malformed_ratio` of its lines bad is refused as `invalid`, as is a file caught mid-write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import PurePosixPath
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from consumer.data_files import read_tree
from consumer.signals.known_content.bank import UNKNOWN_QUALITY, Bank, Entries, plain_bank
from consumer.signals.known_content.parse import HashList, HashListError, Labels, parse_hash_list
from consumer.signals.known_content.settings import HashListRule
from consumer.signals.known_content.vpdq_files import (
    VideoHashes,
    parse_vpdq,
    parse_vpdq_json,
    sniff,
)

G = TypeVar("G", bound=np.generic)


@dataclass(frozen=True)
class ReadBank:
    """A bank as read, the signature of its files, and the first bad line (for the log)."""

    bank: Bank
    signature: tuple[str, ...]
    first_malformed: str = ""


@dataclass(frozen=True)
class _File:
    stem: str
    within: str  # the path inside the bank's folder, without its suffix (the file's stem for a
    # bank of one file)
    parsed: HashList | VideoHashes


def _bare(path: str) -> str:
    """A path or URI without its scheme and its edge slashes, to compare paths with."""
    return path.split("://", 1)[-1].strip("/")


def _name(path: str) -> str:
    return PurePosixPath(path.split("://", 1)[-1].split("?", 1)[0]).name


def _take(rule: HashListRule, path: str, data: memoryview) -> _File:
    """Parse one file by the format its content shows; the messages name the bank and file."""
    name = rule.name if path == rule.path else f"{rule.name}/{_name(path)}"
    kind = sniff(data)
    parsed: HashList | VideoHashes
    if kind == "plain":
        parsed = parse_hash_list(name, data, skip_malformed=True)
    else:
        parsed = (parse_vpdq if kind == "vpdq" else parse_vpdq_json)(name, data)
    inside = _bare(path).removeprefix(_bare(rule.path)).strip("/") or _name(path)
    return _File(PurePosixPath(_name(path)).stem, str(PurePosixPath(inside).with_suffix("")),
                 parsed)


def read_bank(rule: HashListRule) -> ReadBank:
    """Read, parse and check one bank. Raises `HashListError` (invalid), `DataFileError`, or
    `OSError` when its path cannot be read."""
    files, seen = read_tree(rule.path, rule.max_bytes, rule.max_files, partial(_take, rule))
    malformed = sum(f.parsed.malformed for f in files)
    first = next((f.parsed.first_malformed for f in files if f.parsed.first_malformed), "")
    lines = malformed + sum(len(f.parsed.hashes) for f in files)
    if malformed > rule.max_malformed_ratio * lines:
        raise HashListError(f"{malformed} of {lines} lines are not hashes, more than "
                            f"max_malformed_ratio {rule.max_malformed_ratio:g}; the first: "
                            f"{first}")
    if len(files) == 1 and isinstance(files[0].parsed, HashList):  # today's list: no copies
        plain = files[0].parsed
        return ReadBank(plain_bank(rule.name, plain.hashes, plain.labels, malformed=malformed),
                        seen, first)
    stems = Counter(f.stem for f in files if isinstance(f.parsed, VideoHashes))
    files = [replace(f, stem=f.within) if stems[f.stem] > 1 else f for f in files]
    return ReadBank(_assemble(rule.name, files, malformed), seen, first)


def _assemble(name: str, files: list[_File], malformed: int) -> Bank:
    """Every file's rows one after another; a plain file adds an entry per line, a video file
    with at least one good row one entry."""
    hashes, qualities, times, entry_of = [], [], [], []
    ids, labels = _Texts(), _Texts()
    durations: list[npt.NDArray[np.float32]] = []
    frames: list[npt.NDArray[np.int32]] = []
    entries = 0
    for file in files:
        parsed, count = file.parsed, len(file.parsed.hashes)
        if isinstance(parsed, HashList):
            qualities.append(np.full(count, UNKNOWN_QUALITY, np.uint8))
            times.append(np.zeros(count, np.float32))
            entry_of.append(np.arange(entries, entries + count, dtype=np.int32))
            ids.none(count)
            labels.add(parsed.labels)
            durations.append(np.zeros(count, np.float32))
            frames.append(np.ones(count, np.int32))
            entries += count
        elif count:
            qualities.append(parsed.qualities)
            times.append(parsed.times_s)
            entry_of.append(np.full(count, entries, np.int32))
            ids.one(file.stem)
            if parsed.label:
                labels.one(parsed.label)
            else:
                labels.none(1)
            durations.append(np.array([parsed.times_s.max()], np.float32))
            frames.append(np.array([count], np.int32))
            entries += 1
        else:
            continue
        hashes.append(parsed.hashes)
    return Bank(name, _join(hashes, (0, 32), np.uint8), _join(qualities, (0,), np.uint8),
                _join(times, (0,), np.float32), _join(entry_of, (0,), np.int32),
                Entries(ids.labels(), labels.labels(), _join(durations, (0,), np.float32),
                        _join(frames, (0,), np.int32)),
                malformed=malformed, files=len(files))


def _join(parts: Sequence[npt.NDArray[G]], empty: tuple[int, ...],
          dtype: type[G]) -> npt.NDArray[G]:
    joined: npt.NDArray[G] = (np.concatenate(parts).astype(dtype, copy=False) if parts else
                              np.zeros(empty, dtype))
    return joined


class _Texts:
    """`Labels` built a file at a time: blobs and lengths, joined once."""

    def __init__(self) -> None:
        self.blobs: list[npt.NDArray[np.uint8]] = []
        self.lengths: list[npt.NDArray[np.int64]] = []
        self.cut = 0

    def none(self, count: int) -> None:
        self.lengths.append(np.zeros(count, np.int64))

    def one(self, text: str) -> None:
        data = np.frombuffer(text.encode(), np.uint8)
        self.blobs.append(data)
        self.lengths.append(np.array([len(data)], np.int64))

    def add(self, labels: Labels) -> None:
        self.blobs.append(labels.blob)
        self.lengths.append(np.diff(labels.offsets))
        self.cut += labels.cut

    def labels(self) -> Labels:
        lengths = np.concatenate([np.zeros(0, np.int64), *self.lengths])
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        return Labels(np.concatenate([np.zeros(0, np.uint8), *self.blobs]), offsets, self.cut)
