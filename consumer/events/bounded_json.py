"""JSON from an untrusted producer, with explicit bounds. Pure: no I/O.

Python's `json` fails in ways a `JSONDecodeError` handler does not catch: 1,000 nested
arrays raise `RecursionError`, a 5,000-digit integer raises `ValueError` (the interpreter's
digit limit), and duplicate keys pass silently with the last one winning, so two readers of
the same event can disagree on its `video_id`. Here depth is measured before parsing,
numbers are length-checked before conversion, `NaN`/`Infinity` (not JSON) are refused and
duplicate keys are reported; every refusal is a `JsonRefused` with a stable `reason`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 64

# A JSON string, escapes included; DOTALL so a stray raw newline cannot end a match early.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = np.frombuffer(b"[{", np.uint8)
_CLOSE = np.frombuffer(b"]}", np.uint8)


class JsonRefused(ValueError):
    """The bytes are not JSON within the bounds; `reason` is a low-cardinality label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Parsed:
    """The decoded value, and the duplicate keys of its top-level object (if it is one)."""

    value: Any
    top_level_duplicates: list[str] = field(default_factory=list)
    nested_duplicates: list[str] = field(default_factory=list)


def _depths(raw: bytes) -> npt.NDArray[np.int32]:
    """The bracket nesting depth after each byte, brackets inside strings not counted."""
    structure = np.frombuffer(raw, np.uint8)
    steps = np.isin(structure, _OPEN).astype(np.int32) - np.isin(structure, _CLOSE)
    spans = [(m.start(), m.end()) for m in _STRING.finditer(raw)]
    if spans:
        inside = np.zeros(len(raw) + 1, np.int32)
        bounds = np.array(spans)
        np.add.at(inside, bounds[:, 0], 1)
        np.add.at(inside, bounds[:, 1], -1)
        steps[np.cumsum(inside[:-1]) > 0] = 0
    return np.cumsum(steps, dtype=np.int32)


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings, in linear time and without recursion."""
    return int(_depths(raw).max(initial=0))


def top_level(raw: bytes) -> bytes:
    """`raw` with every container below the top level emptied (`{"m": [[[1]]]}` ->
    `{"m": []}`): the top-level object of a document refused for depth or numbers deep inside
    it can still be read, e.g. for the id of the video it names."""
    after = _depths(raw)
    before = np.concatenate(([0], after[:-1]))
    keep = np.minimum(before, after) <= 1
    return np.frombuffer(raw, np.uint8)[keep].tobytes()


def _bounded_number(convert: Callable[[str], Any], limit: int) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if len(text) > limit:
            raise JsonRefused("number_too_large",
                              f"a number has {len(text)} characters, limit {limit}")
        return convert(text)

    return parse


def _refuse_constant(name: str) -> Any:
    raise JsonRefused("not_json", f"{name} is not a JSON value")


def loads(raw: bytes, *, max_depth: int = MAX_DEPTH,
          max_number_chars: int = MAX_NUMBER_CHARS) -> Parsed:
    """Decode `raw` (UTF-8 JSON, RFC 8259) within the bounds, or raise `JsonRefused`."""
    duplicates: list[tuple[dict[str, Any], list[str]]] = []

    def build_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(pairs)
        if len(built) != len(pairs):
            counts = Counter(key for key, _ in pairs)
            duplicates.append((built, sorted(key for key, n in counts.items() if n > 1)))
        return built

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonRefused("not_json", f"not UTF-8: {exc}") from exc
    depth = nesting_depth(raw)  # exact for UTF-8: its multi-byte units never hold ASCII
    if depth > max_depth:
        raise JsonRefused("too_deep", f"JSON nests {depth} levels deep, limit {max_depth}")
    try:
        value = json.loads(text, object_pairs_hook=build_object,
                           parse_int=_bounded_number(int, max_number_chars),
                           parse_float=_bounded_number(float, max_number_chars),
                           parse_constant=_refuse_constant)
    except RecursionError as exc:  # the depth scan should make this unreachable
        raise JsonRefused("too_deep", "JSON nests too deep to parse") from exc
    except json.JSONDecodeError as exc:
        raise JsonRefused("not_json", f"not JSON: {exc}") from exc
    top = [keys for built, keys in duplicates if built is value]
    nested = sorted({k for built, keys in duplicates if built is not value for k in keys})
    return Parsed(value, top[0] if top else [], nested)
