"""The size limits of the output topics, read once at start-up and passed down.

Each limit is the smaller of the producer's `message.max.bytes` and the topic's
`max.message.bytes` (a topic whose limit cannot be read counts as a broker's default), so a
record fitted to it is one neither the producer nor the broker refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

# Below this a verdict with its reasons and ids cannot be promised to fit: start-up refuses it.
MIN_RECORD_LIMIT_BYTES = 16 * 1024


@dataclass(frozen=True)
class RecordLimits:
    """Bytes one record may take on each output topic (key, value, headers, overheads)."""

    verdicts_bytes: int
    tags_bytes: int
    dead_letter_bytes: int
    signals_bytes: int = 1 << 20  # the signals record (a broker's default limit)

    @classmethod
    def uniform(cls, limit_bytes: int) -> RecordLimits:
        return cls(limit_bytes, limit_bytes, limit_bytes, limit_bytes)
