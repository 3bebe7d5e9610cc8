"""Reading one video's frame hashes as hash-sharing tools write them, and telling the formats
of a bank's files apart by their content.

Two video formats are read, each file one video (its stem the entry id):
- the vPDQ reference tool's (facebook/ThreatExchange `vpdq/`, cpp and python): a line per
  hashed frame, `frame,quality,pdq_hex,timestamp`, e.g. `0,100,<64 hex>,0.000`;
- python-threatexchange's vPDQ signal: a JSON list of `"pdq_hex,quality,timestamp"` strings
  (its timestamps are written with 3 significant digits, so `1.23e+02` occurs), and its older
  JSON object `{"<frame>": {"hash", "quality", "timestamp"}}`.

Banks come from many hands: a bad line (a cut hash, a quality above 100, a negative or
missing time) is skipped and counted, never a crash; the bank decides how many it tolerates.
A file caught mid-write is refused whole, as with plain lists: a reference file whose last line
has no newline, or JSON that does not parse.
"""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from consumer.signals.known_content.parse import BOM, LABEL_MAX_CHARS, HashListError

Format = Literal["plain", "vpdq", "vpdq_json"]
SNIFF_BYTES = 1 << 16
SNIFF_LINES = 20
_NUMBER = rb"([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)"
_VPDQ_LINE = re.compile(rb"^[ \t]*([0-9]{1,9})[ \t]*,[ \t]*([0-9]{1,3})[ \t]*,[ \t]*"
                        rb"([0-9a-fA-F]{64})[ \t]*,[ \t]*" + _NUMBER + rb"[ \t]*\r?$", re.M)
_VPDQ_START = re.compile(rb"[ \t]*[0-9]+[ \t]*,[ \t]*[0-9]+[ \t]*,[ \t]*[0-9a-fA-F]{64}[ \t]*,")
_PLAIN_START = re.compile(rb"[ \t]*[0-9a-fA-F]{64}[ \t]*(?:,|\r?$)")
_LABEL = re.compile(rb"^[ \t]*# label:[ \t]*([^\r\n]*)", re.M)  # entries.LABEL_PREFIX
_SKIPPED = re.compile(rb"^[ \t]*(?:#.*)?\r?$", re.M)  # blank lines and comments
_HEADER = re.compile(rb"[ \t]*[A-Za-z_]+(?:[ \t]*,[ \t]*[A-Za-z_]+)*[ \t]*\r?")
_COMPACT = re.compile(r"\s*([0-9a-fA-F]{64})\s*,\s*([0-9]{1,3})\s*,\s*" +
                      _NUMBER.decode() + r"\s*")


@dataclass(frozen=True)
class VideoHashes:
    """One video's hashed frames, in the file's order."""

    hashes: npt.NDArray[np.uint8]  # [n, 32]
    qualities: npt.NDArray[np.uint8]  # [n]
    times_s: npt.NDArray[np.float32]  # [n]
    malformed: int = 0
    first_malformed: str = ""
    label: str | None = None  # a `# label: ...` comment line's (files written here)


def sniff(data: bytes | memoryview) -> Format:
    """A file's format from its first lines: JSON (a list or an object), vPDQ reference lines
    (`frame,quality,hash,time`), else a plain list (`hash` or `hash,label`)."""
    head = bytes(data[:SNIFF_BYTES]).removeprefix(BOM).lstrip()
    if head[:1] in (b"[", b"{"):
        return "vpdq_json"
    vpdq = plain = 0
    for line in head.split(b"\n")[:SNIFF_LINES]:
        vpdq += bool(_VPDQ_START.match(line))
        plain += bool(_PLAIN_START.match(line))
    return "vpdq" if vpdq and vpdq >= plain else "plain"


def _video(fields: list[tuple[bytes, ...]], *, malformed: int, first: str,
           where: str) -> VideoHashes:
    """Rows from matched text fields (hash, quality, time); a quality above 100 makes its row
    malformed."""
    hexes, qualities, times = ([f[k] for f in fields] for k in range(3))
    quality = np.array(qualities or [b"0"]).astype(np.int64)[:len(qualities)]
    keep = quality <= 100
    if not keep.all():
        malformed += int(np.count_nonzero(~keep))
        first = first or f"{where}: a quality above 100"
    hashes = np.frombuffer(binascii.unhexlify(b"".join(hexes)), np.uint8).reshape(-1, 32)
    seconds = np.array(times or [b"0"]).astype(np.float64)[:len(times)]
    with np.errstate(over="ignore"):  # 1e999 (or past float32) would make shares NaN
        finite = np.isfinite(seconds.astype(np.float32))
    if not finite.all():
        malformed += int(np.count_nonzero(keep & ~finite))
        first = first or f"{where}: a time that is not a finite number"
        keep &= finite
    return VideoHashes(hashes[keep], quality[keep].astype(np.uint8),
                       seconds[keep].astype(np.float32), malformed, first)


def parse_vpdq(name: str, data: bytes | memoryview) -> VideoHashes:
    """The vPDQ reference tool's lines; a header line first, blank lines and `#` comments are
    skipped, other bad lines counted. Raises `HashListError` for a missing last newline."""
    text = bytes(data).removeprefix(BOM)
    if text and not text.endswith(b"\n"):
        raise HashListError(f"vPDQ file {name!r}: the last line has no newline (a file caught "
                            "mid-write, or truncated)")
    found = _VPDQ_LINE.findall(text)
    counted = text.count(b"\n")
    if len(found) < counted:  # blank lines, comments, a header or bad lines: count them
        counted += 1 - len(_SKIPPED.findall(text))
    malformed = counted - len(found)
    first = ""
    if malformed:  # the slow path, for the few files with bad lines: which ones
        lines = text.split(b"\n")[:-1]
        bad = [i for i, line in enumerate(lines, 1)
               if not _SKIPPED.fullmatch(line) and not _VPDQ_LINE.fullmatch(line)]
        meaningful = next(i for i, line in enumerate(lines, 1) if not _SKIPPED.fullmatch(line))
        if bad[0] == meaningful and _HEADER.fullmatch(lines[meaningful - 1]):
            bad, malformed = bad[1:], malformed - 1  # `frame,quality,pdq_hex,timestamp`
        if bad:
            first = (f"vPDQ file {name!r}, line {bad[0]}: not "
                     "`frame,quality,pdq_hex,timestamp`")
    video = _video([(f[2], f[1], f[3]) for f in found], malformed=malformed, first=first,
                   where=f"vPDQ file {name!r}")
    label = _LABEL.search(text)
    if label is None:
        return video
    return replace(video, label=_cut(label.group(1).decode("utf-8", "replace").strip()))


def _cut(label: str) -> str | None:
    if len(label) > LABEL_MAX_CHARS:
        return label[:LABEL_MAX_CHARS - 1] + "\u2026"
    return label or None


def parse_vpdq_json(name: str, data: bytes | memoryview) -> VideoHashes:
    """python-threatexchange's vPDQ JSON: a list of `"hash,quality,timestamp"` strings, or its
    older object of frames. Raises `HashListError` for JSON that does not parse (cut short)."""
    try:
        parsed = json.loads(bytes(data).removeprefix(BOM))
    except (ValueError, RecursionError) as exc:
        raise HashListError(f"vPDQ JSON file {name!r}: not valid JSON (a file caught "
                            f"mid-write, or truncated): {str(exc)[:200]}") from exc
    if isinstance(parsed, dict):
        items: list[Any] = [_old_feature(value) for value in parsed.values()]
    elif isinstance(parsed, list):
        items = parsed
    else:
        raise HashListError(f"vPDQ JSON file {name!r}: not a list of features")
    fields: list[tuple[bytes, ...]] = []
    malformed, first = 0, ""
    for number, item in enumerate(items, 1):
        found = _COMPACT.fullmatch(item) if isinstance(item, str) else None
        if found is None:
            malformed += 1
            first = first or (f"vPDQ JSON file {name!r}, item {number}: not "
                              "\"pdq_hex,quality,timestamp\"")
            continue
        fields.append((found[1].encode(), found[2].encode(), found[3].encode()))
    return _video(fields, malformed=malformed, first=first, where=f"vPDQ JSON file {name!r}")


def _old_feature(value: Any) -> str | None:
    """`{"hash", "quality", "timestamp"}` as the compact string, or None if it is not one."""
    if not isinstance(value, dict):
        return None
    parts = (value.get("hash"), value.get("quality"), value.get("timestamp"))
    if not isinstance(parts[0], str) or any(isinstance(p, bool) or not isinstance(p, int | float)
                                            for p in parts[1:]):
        return None
    return f"{parts[0]},{parts[1]},{parts[2]}"
