"""Dead-letter records: the original bytes with headers saying why. Pure.

A DLQ copy must always be producible, whatever the event: an event the consumer accepted
(up to the input topic's limit) can exceed what the producer (`message.max.bytes`) or the DLQ
topic (`max.message.bytes`) takes, and a copy that cannot be produced would stop the
partition. Such a copy keeps the first bytes that fit and says so in headers:
`vmc.truncated`, `vmc.original.size` and `vmc.original.sha256` (of the whole value).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from consumer.events.source import SourceRef
from consumer.publishing.records import LIVE_RUN_ID

Headers = list[tuple[str, bytes]]

# librdkafka counts key, value and headers plus a small per-record overhead against
# message.max.bytes; the broker counts the (compressed) batch. Both are covered by keeping
# this much below the limit: per header, and for the record, plus 1% for compression.
HEADER_OVERHEAD_BYTES = 16
RECORD_OVERHEAD_BYTES = 1024


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes
    headers: Headers


def dlq_headers(
    *, stage: str, error: BaseException, reason: str, attempt: int, source: SourceRef,
    original: Sequence[tuple[str, bytes | None]] | None = None, run_id: str = LIVE_RUN_ID,
) -> Headers:
    """The original headers, then ours: stage, error class and message, attempt, source."""
    ours = {
        "vmc.stage": stage,
        "vmc.error.class": type(error).__name__,
        "vmc.error.reason": reason,
        "vmc.error.message": str(error)[:2000],
        "vmc.attempt": str(attempt),
        "vmc.source.topic": source.topic,
        "vmc.source.partition": str(source.partition),
        "vmc.source.offset": str(source.offset),
        "vmc.run_id": run_id,
    }
    kept = [(k, v) for k, v in (original or ()) if v is not None and not k.startswith("vmc.")]
    return kept + [(k, v.encode()) for k, v in ours.items()]


def record_bytes(key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> int:
    """What a record costs against a size limit, overheads included (an upper bound)."""
    return (len(key or b"") + len(value) + RECORD_OVERHEAD_BYTES
            + sum(len(k.encode()) + len(v) + HEADER_OVERHEAD_BYTES for k, v in headers))


def usable_bytes(limit_bytes: int) -> int:
    """The part of a size limit a record may fill (1% kept back for compression framing)."""
    return limit_bytes - limit_bytes // 100


def fit_dead_letter(key: bytes | None, value: bytes, headers: Headers,
                    limit_bytes: int) -> DeadLetter:
    """The record as is if it fits `limit_bytes`; otherwise ours and the truncation headers,
    the original headers that fit in half of the room left, and the value's first bytes."""
    room = usable_bytes(limit_bytes)
    if record_bytes(key, value, headers) <= room:
        return DeadLetter(key, value, headers)
    ours = [(k, v) for k, v in headers if k.startswith("vmc.")]
    theirs = [(k, v) for k, v in headers if not k.startswith("vmc.")]
    marks = [("vmc.truncated", b"true"), ("vmc.original.size", str(len(value)).encode()),
             ("vmc.original.sha256", hashlib.sha256(value).hexdigest().encode())]
    budget = room - record_bytes(key, b"", ours + marks) - (64 if theirs else 0)
    kept: Headers = []
    spent = 0
    for name, data in theirs:  # the original headers first, up to half of what is left
        cost = len(name.encode()) + len(data) + HEADER_OVERHEAD_BYTES
        if spent + cost <= budget // 2:
            kept.append((name, data))
            spent += cost
    if len(kept) < len(theirs):
        marks.append(("vmc.original.headers_dropped", str(len(theirs) - len(kept)).encode()))
    return DeadLetter(key, value[:max(0, budget - spent)], kept + ours + marks)
