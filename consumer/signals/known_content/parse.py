"""Parsing a hash list: the bytes of the file -> a [N, 32] array of PDQ hashes and their labels.

Lists reach millions of lines and are re-read while the consumer runs. Parsing them line by
line in Python held the GIL for seconds (the poll loop stalled ~4 s on 2M lines) and built
millions of objects (the process grew by ~700 MB). So the file is parsed in 1 MiB chunks with
numpy: the ordinary line (64 hex digits, optionally `,label`) never becomes a Python object, and
labels stay one UTF-8 blob with offsets. Only unusual lines (comments, blank lines, a header,
spaces around a field, labels that are long or not ASCII) take the line-by-line path.

Fail closed: a last line without its newline (a file caught mid-write) makes the whole list
invalid, and so does a line that is not a hash, unless the caller asks for such lines to be
skipped and counted (`skip_malformed`: a bank decides how many it tolerates). A UTF-8 BOM
(spreadsheet "CSV UTF-8" exports) is skipped.
A label longer than `LABEL_MAX_CHARS` is cut (with an ellipsis) so one line can never bloat a
verdict; `Labels.cut` counts them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from consumer.media.frame_hash import PDQ_HEX_DIGITS

LABEL_MAX_CHARS = 256
CHUNK_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"
_HEX = re.compile(rf"[0-9a-fA-F]{{{PDQ_HEX_DIGITS}}}")
_HEADERS = ("hash", "pdq", "signal_value")
_EVEN = np.arange(0, PDQ_HEX_DIGITS, 2)
_NIBBLE = np.full(256, 255, np.uint8)
for _digit, _char in enumerate(b"0123456789abcdef"):
    _NIBBLE[_char] = _NIBBLE[bytes([_char]).upper()[0]] = _digit


class HashListError(ValueError):
    """A hash list that cannot be read as PDQ hashes (the message names the line)."""


@dataclass(frozen=True)
class Labels:
    """Each hash's label (or None), kept as one UTF-8 blob and offsets: 2M labels cost their
    bytes plus 8 bytes each, not 2M Python strings."""

    blob: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]  # [N + 1]
    cut: int = 0  # labels cut to LABEL_MAX_CHARS

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __iter__(self) -> Iterator[str | None]:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i: int) -> str | None:
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.blob[start:end].tobytes().decode() if end > start else None


@dataclass(frozen=True)
class HashList:
    name: str
    hashes: npt.NDArray[np.uint8]  # [N, 32], bit 255 first like the hex form
    labels: Labels
    malformed: int = 0  # lines skipped as not a hash (only with `skip_malformed`)
    first_malformed: str = ""  # where the first one is, for the log


def parse_hash_list(name: str, data: bytes | memoryview | str, *,
                    skip_malformed: bool = False) -> HashList:
    """One PDQ hash per line, or `hash,label`; blank lines, `#` comments and a header before the
    first hash are skipped. Raises `HashListError` naming the first bad line, or with
    `skip_malformed` skips and counts bad lines (a missing last newline still raises)."""
    buf = np.frombuffer(data.encode() if isinstance(data, str) else data, np.uint8)
    pos = len(BOM) if buf[:len(BOM)].tobytes() == BOM else 0
    if len(buf) > pos and buf[-1] != ord("\n"):
        raise HashListError(f"hash list {name!r}: the last line has no newline (a file caught "
                            "mid-write, or truncated)")
    capacity = sum(int(np.count_nonzero(buf[a:a + CHUNK_BYTES] == ord("\n")))
                   for a in range(pos, len(buf), CHUNK_BYTES))
    parser = _Parser(name, np.empty((capacity, 32), np.uint8), skip_malformed)
    while pos < len(buf):
        cut = _line_end(buf, min(pos + CHUNK_BYTES, len(buf)) - 1) + 1
        parser.chunk(buf[pos:cut])
        pos = cut
    return parser.result()


def _line_end(buf: npt.NDArray[np.uint8], at: int) -> int:
    """The position of the first newline at or after `at` (the file ends with one)."""
    while True:
        found = np.flatnonzero(buf[at:at + 4096] == ord("\n"))
        if len(found):
            return at + int(found[0])
        at += 4096


class _Parser:
    def __init__(self, name: str, hashes: npt.NDArray[np.uint8], skip: bool = False) -> None:
        self.name = name
        self.skip = skip
        self.malformed = 0
        self.first_malformed = ""
        self.hashes = hashes
        self.rows = 0
        self.lines = 0
        self.blobs: list[npt.NDArray[np.uint8]] = []
        self.lengths: list[npt.NDArray[np.int64]] = []
        self.cut = 0
        self._slow: list[bytes] = []  # labels of unusual lines not yet in `blobs`

    def chunk(self, chunk: npt.NDArray[np.uint8]) -> None:
        ends = np.flatnonzero(chunk == ord("\n"))
        starts = np.concatenate(([0], ends[:-1] + 1))
        ends = ends - ((ends > starts) & (chunk[np.maximum(ends - 1, 0)] == ord("\r")))
        fast, pairs = self._fast_lines(chunk, starts, ends)
        if fast.all():
            self._take(chunk, pairs, starts, ends)
        else:
            self._mixed(chunk, starts, ends, fast, pairs)
            self._flush()
        self.lines += len(starts)

    @staticmethod
    def _fast_lines(chunk: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
                    ends: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.bool_],
                                                           npt.NDArray[np.uint8]]:
        """Which lines are `<64 hex>` or `<64 hex>,<short ASCII label, no edge spaces>`, and
        the byte value of every pair of hex digits in the chunk (garbage where not hex)."""
        size = len(chunk)
        lengths = ends - starts
        nibbles = _NIBBLE[chunk]
        not_hex = np.concatenate(([0], np.cumsum(nibbles == 255, dtype=np.int32)))
        hex_ok = (lengths >= PDQ_HEX_DIGITS) & (
            not_hex[np.minimum(starts + PDQ_HEX_DIGITS, size)] == not_hex[starts])
        label_len = lengths - PDQ_HEX_DIGITS - 1
        at = np.minimum(starts + PDQ_HEX_DIGITS, size - 1)
        first = chunk[np.minimum(starts + PDQ_HEX_DIGITS + 1, size - 1)]
        last = chunk[np.maximum(ends - 1, 0)]
        labelled = (lengths > PDQ_HEX_DIGITS) & (chunk[at] == ord(",")) & (
            (label_len == 0) | ((label_len <= LABEL_MAX_CHARS) & (first > 32) & (last > 32)))
        fast = hex_ok & ((lengths == PDQ_HEX_DIGITS) | labelled)
        if (chunk >= 128).any():  # labels that are not ASCII: checked line by line
            high = np.concatenate(([0], np.cumsum(chunk >= 128, dtype=np.int32)))
            fast &= high[ends] == high[starts]
        pairs = (nibbles[:-1] << 4) | nibbles[1:]
        return fast, np.concatenate((pairs, [0]))

    def _take(self, chunk: npt.NDArray[np.uint8], pairs: npt.NDArray[np.uint8],
              starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]) -> None:
        """Append these ordinary lines to the result."""
        self._flush()
        count = len(starts)
        self.hashes[self.rows:self.rows + count] = pairs[starts[:, None] + _EVEN]
        self.rows += count
        label_starts = starts + PDQ_HEX_DIGITS + 1
        lengths = np.maximum(ends - label_starts, 0)
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        gather = np.arange(offsets[-1]) + np.repeat(label_starts - offsets[:-1], lengths)
        self.blobs.append(chunk[gather])
        self.lengths.append(lengths)

    def _mixed(self, chunk: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
               ends: npt.NDArray[np.int64], fast: npt.NDArray[np.bool_],
               pairs: npt.NDArray[np.uint8]) -> None:
        """A chunk with unusual lines: runs of ordinary lines in bulk, the others one by one."""
        run = 0
        for i in np.flatnonzero(~fast).tolist():
            if i > run:
                self._take(chunk, pairs, starts[run:i], ends[run:i])
            self._line(bytes(chunk[starts[i]:ends[i]]), self.lines + i + 1)
            run = i + 1
        if run < len(starts):
            self._take(chunk, pairs, starts[run:], ends[run:])

    def _line(self, raw: bytes, number: int) -> None:
        try:
            line = raw.decode().strip()
        except UnicodeDecodeError as exc:
            if self._skipped(f"hash list {self.name!r}, line {number}: not UTF-8"):
                return
            raise HashListError(f"hash list {self.name!r}, line {number}: not UTF-8") from exc
        if not line or line.startswith("#"):
            return
        first, _, rest = line.partition(",")
        first = first.strip()
        if not _HEX.fullmatch(first):
            if not self.rows and first.lower() in _HEADERS:
                return  # a CSV header
            message = (f"hash list {self.name!r}, line {number}: not a PDQ hash "
                       f"({PDQ_HEX_DIGITS} hex digits)")
            if self._skipped(message):
                return
            raise HashListError(message)
        label = rest.strip()
        if len(label) > LABEL_MAX_CHARS:
            label = label[:LABEL_MAX_CHARS - 1] + "\u2026"
            self.cut += 1
        self.hashes[self.rows] = np.frombuffer(bytes.fromhex(first), np.uint8)
        self.rows += 1
        self._slow.append(label.encode())

    def _skipped(self, message: str) -> bool:
        """Whether a bad line is skipped (and counted) rather than refused."""
        if self.skip:
            self.malformed += 1
            self.first_malformed = self.first_malformed or message
        return self.skip

    def _flush(self) -> None:
        if self._slow:
            self.blobs.append(np.frombuffer(b"".join(self._slow), np.uint8))
            self.lengths.append(np.array([len(label) for label in self._slow], np.int64))
            self._slow = []

    def result(self) -> HashList:
        hashes = self.hashes[:self.rows]
        if self.rows < 0.9 * len(self.hashes):  # many skipped lines: do not keep the slack
            hashes = hashes.copy()
        offsets = np.concatenate(([0], np.cumsum(np.concatenate(
            [np.zeros(0, np.int64), *self.lengths])))).astype(np.int64)
        blob = np.concatenate([np.zeros(0, np.uint8), *self.blobs])
        return HashList(self.name, hashes, Labels(blob, offsets, self.cut), self.malformed,
                        self.first_malformed)
