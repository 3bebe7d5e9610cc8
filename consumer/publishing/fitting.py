"""Verdict and tags records cut to fit what the broker takes. Pure.

A record the producer or the topic refuses as too large (`MSG_SIZE_TOO_LARGE`) would stop the
consumer on every restart, and the inputs that make records large are not ours: a hash list's
label, on-screen text (hundreds of strings per frame; non-ASCII costs 6 bytes a character in
JSON), a model with many labels. So every record is fitted before it is produced:

1. Fixed caps, always: any string at most `MAX_STRING_CHARS` characters (the ids and the
   verdict itself excepted), and the tags' lists at most `MAX_ITEMS` entries.
2. Over budget: the bulky lists (tags: text, frames, labels, music, black keyframe times, the
   coverage's analysed times; verdict: the scores of categories no reason names, analysed
   times) are cut from their tails, bulkiest first: each list above a common byte cap is cut
   to it, so a small list is not emptied for a big one's sake.
3. A verdict still over budget loses its reasons' details, then every reason field but
   `category` and `action`, then (only for an absurdly low limit) its last reasons. The
   verdict, its ids and its source are never cut: a size error can never drop a verdict.

What was cut is said in the record: `"truncated": {"text": 812, "reasons.detail": 1}`, per
field the number of list entries dropped or of strings shortened or removed in it; the key is
absent when nothing was cut. Sizes are the encoded JSON (`records.encode`) plus key, headers
and overheads (`dlq.record_bytes`), against `dlq.usable_bytes` of the limit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consumer.publishing.dlq import record_bytes, usable_bytes
from consumer.publishing.records import encode

MAX_STRING_CHARS = 1000
MAX_ITEMS = {"text": 1000, "labels": 1000, "frames": 5000, "music": 500}
DEFAULT_MAX_ITEMS = 1000  # a list field of a signal not named above
TRUNCATED = "truncated"
MARKER_RESERVE_BYTES = 256  # first guess of the room the "truncated" object takes
UNCUT_STRINGS = frozenset({"verdict_id", "video_id", "verdict", "reasons.action", "source"})
TAGS_NESTED_LISTS = (("technical", "black_keyframes_at_s"), ("coverage", "analysed_s"))
VERDICT_LISTS = (("scores",), ("coverage", "analysed_s"))
REASON_CORE = ("category", "action")

Cuts = Counter[str]


@dataclass(frozen=True)
class Fitted:
    """The record as it will be sent, its bytes, and what was cut from it (empty: nothing)."""

    record: dict[str, Any]
    value: bytes
    truncated: dict[str, int]


def fit_verdict(record: Mapping[str, Any], limit_bytes: int, *, key: bytes | None = None,
                headers: Sequence[tuple[str, bytes]] = ()) -> Fitted:
    """The verdict, cut (never dropped) to fit `limit_bytes` with its key and headers."""
    return _fit(record, _budget(limit_bytes, key, headers), VERDICT_LISTS,
                (_drop_details, _core_reasons, _drop_last_reasons))


def fit_tags(record: Mapping[str, Any], limit_bytes: int, *, key: bytes | None = None,
             headers: Sequence[tuple[str, bytes]] = ()) -> Fitted:
    """The tags record, its bulky lists cut to fit `limit_bytes` with its key and headers."""
    lists = tuple((name,) for name, value in record.items() if isinstance(value, list))
    return _fit(record, _budget(limit_bytes, key, headers), lists + TAGS_NESTED_LISTS, ())


def _budget(limit_bytes: int, key: bytes | None, headers: Sequence[tuple[str, bytes]]) -> int:
    return usable_bytes(limit_bytes) - record_bytes(key, b"", headers)


def _dumps(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), allow_nan=False))


def _encoded(record: dict[str, Any], cuts: Cuts) -> bytes:
    if cuts:
        record[TRUNCATED] = dict(sorted(cuts.items()))
    return encode(record)


LastResort = Callable[[dict[str, Any], Cuts, int], None]


def _fit(record: Mapping[str, Any], budget: int, lists: Sequence[tuple[str, ...]],
         last_resorts: Sequence[LastResort]) -> Fitted:
    cuts: Cuts = Counter()
    out = _capped(record, cuts)
    value = _encoded(out, cuts)

    def fill(part: dict[str, Any], counts: Cuts, over: int) -> None:
        _water_fill(part, lists, over, counts)

    reserve = MARKER_RESERVE_BYTES
    for stage in (fill, fill, *last_resorts):  # a second fill if the marker outgrew its guess
        if len(value) <= budget:
            break
        out.pop(TRUNCATED, None)
        stage(out, cuts, len(encode(out)) - (budget - reserve))
        value = _encoded(out, cuts)
        reserve = max(reserve, len(',"truncated":') + _dumps(dict(cuts)) + 64)
    return Fitted(out, value, dict(cuts))


# ------------------------------------------------------------------ 1. fixed caps
def _capped(record: Mapping[str, Any], cuts: Cuts) -> dict[str, Any]:
    """A copy with every string and tags list within the fixed caps (counted in `cuts`)."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name == TRUNCATED:
            continue
        limit = None if name == "reasons" else MAX_ITEMS.get(name, DEFAULT_MAX_ITEMS)
        kept = value
        if limit is not None and isinstance(value, list) and len(value) > limit:
            cuts[name] += len(value) - limit
            kept = value[:limit]
        out[name] = _capped_value(kept, name, cuts, top=True)
    return out


def _capped_value(value: Any, path: str, cuts: Cuts, *, top: bool = False) -> Any:
    """Strings cut to `MAX_STRING_CHARS`; `path` is the field, and within a top-level list of
    objects the object's field (`reasons.detail`, `text.text`), so few paths exist."""
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS and path not in UNCUT_STRINGS:
            cuts[path] += 1
            return value[:MAX_STRING_CHARS]
        return value
    if isinstance(value, Mapping):
        return {k: _capped_value(v, path, cuts) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if top:  # a list of objects: name the object's field
            return [{k: _capped_value(v, f"{path}.{k}", cuts) for k, v in item.items()}
                    if isinstance(item, Mapping) else _capped_value(item, path, cuts)
                    for item in value]
        return [_capped_value(item, path, cuts) for item in value]
    return value


# ------------------------------------------------------------------ 2. bulky lists
@dataclass
class _Part:
    """One droppable list (or a mapping's entries, in the order they are kept)."""

    parent: dict[str, Any]
    name: str
    path: str
    keys: list[Any]  # list indices, or mapping keys best first
    sizes: list[int]  # encoded bytes of each entry

    @property
    def total(self) -> int:
        return sum(self.sizes) + max(len(self.sizes) - 1, 0)

    def keep_within(self, cap: int) -> int:
        """Keep the longest prefix whose entries fit `cap` bytes; returns the number cut."""
        kept, spent = 0, 0
        for size in self.sizes:
            if spent + size + (1 if kept else 0) > cap:
                break
            spent += size + (1 if kept else 0)
            kept += 1
        value = self.parent[self.name]
        if isinstance(value, list):
            self.parent[self.name] = value[:kept]
        else:
            keep = set(self.keys[:kept])
            self.parent[self.name] = {k: v for k, v in value.items() if k in keep}
        return len(self.sizes) - kept


def _part(record: dict[str, Any], path: tuple[str, ...]) -> _Part | None:
    parent: Any = record
    for name in path[:-1]:
        parent = parent.get(name) if isinstance(parent, dict) else None
    if not isinstance(parent, dict):
        return None
    value = parent.get(path[-1])
    if isinstance(value, list) and value:
        return _Part(parent, path[-1], ".".join(path), list(range(len(value))),
                     [_dumps(item) for item in value])
    if isinstance(value, dict) and value:
        keys = _score_order(record, value)
        return _Part(parent, path[-1], ".".join(path), keys,
                     [_dumps(str(k)) + 1 + _dumps(value[k]) for k in keys])
    return None


def _score_order(record: Mapping[str, Any], scores: Mapping[str, Any]) -> list[Any]:
    """Scores kept first: the categories the reasons name, then the highest."""
    named = {r.get("category") for r in record.get("reasons") or () if isinstance(r, Mapping)}
    return sorted(scores, key=lambda k: (k not in named, -_number(scores[k]), str(k)))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _water_fill(record: dict[str, Any], paths: Sequence[tuple[str, ...]], over: int,
                cuts: Cuts) -> None:
    """Cut `over` bytes from the lists: every list above a common cap is cut to it, the cap
    as high as still frees `over` bytes."""
    parts = [part for part in (_part(record, path) for path in paths) if part is not None]
    if not parts or over <= 0:
        return
    low, high = 0, max(part.total for part in parts)
    while low < high:  # the highest cap that frees enough
        cap = (low + high + 1) // 2
        if sum(max(0, part.total - cap) for part in parts) >= over:
            low = cap
        else:
            high = cap - 1
    for part in parts:
        if part.total > low:
            dropped = part.keep_within(low)
            if dropped:
                cuts[part.path] += dropped


# ------------------------------------------------------------------ 3. verdict last resorts
def _reasons(record: dict[str, Any]) -> list[dict[str, Any]]:
    reasons = record.get("reasons")
    return [r for r in reasons if isinstance(r, dict)] if isinstance(reasons, list) else []


def _drop_details(record: dict[str, Any], cuts: Cuts, over: int) -> None:
    """Every detail goes (a detail shortened before is still one string cut)."""
    dropped = sum(reason.pop("detail", None) is not None for reason in _reasons(record))
    if dropped:
        cuts["reasons.detail"] = max(cuts["reasons.detail"], dropped)


def _core_reasons(record: dict[str, Any], cuts: Cuts, over: int) -> None:
    dropped: Cuts = Counter()
    for reason in _reasons(record):
        for name in [k for k in reason if k not in REASON_CORE]:
            del reason[name]
            dropped[f"reasons.{name}"] += 1
    for name, count in dropped.items():  # one string shortened, then removed, counts once
        cuts[name] = max(cuts[name], count)
    if record.get("scores"):
        cuts["scores"] += len(record["scores"])
        record["scores"] = {}
    coverage = record.get("coverage")
    if isinstance(coverage, dict) and set(coverage) - {"complete"}:
        record["coverage"] = {k: v for k, v in coverage.items() if k == "complete"}
        cuts["coverage"] += 1


def _drop_last_reasons(record: dict[str, Any], cuts: Cuts, over: int) -> None:
    """Only for a limit too low for the reasons themselves: keep the first (the strongest)."""
    reasons = record.get("reasons")
    if not isinstance(reasons, list):
        return
    kept = len(reasons)
    while kept > 1 and over > 0:
        kept -= 1
        over -= _dumps(reasons[kept]) + 1
    if kept < len(reasons):
        cuts["reasons"] += len(reasons) - kept
        record["reasons"] = reasons[:kept]
