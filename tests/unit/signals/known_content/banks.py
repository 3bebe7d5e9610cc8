"""Building banks for unit tests: plain lists (bank.py's `plain_bank`) and video entries (a
vPDQ file's frames), indexed as the store serves them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from consumer.signals.known_content.bank import Bank, Entries, IndexedBank, plain_bank
from consumer.signals.known_content.index import HashIndex
from consumer.signals.known_content.parse import Labels
from consumer.signals.known_content.settings import HashListRule


def labels(values: Sequence[str | None]) -> Labels:
    blob = b"".join((v or "").encode() for v in values)
    lengths = [len((v or "").encode()) for v in values]
    return Labels(np.frombuffer(blob, np.uint8).copy(), np.r_[0, np.cumsum(lengths)].astype(
        np.int64))


def rows(hexes: Sequence[str]) -> np.ndarray:
    return np.frombuffer(b"".join(bytes.fromhex(h) for h in hexes), np.uint8).reshape(-1, 32)


def rule(name: str, **settings: Any) -> HashListRule:
    return HashListRule(name=name, path="unused", **settings)


def plain(name: str, hexes: Sequence[str], names: Sequence[str | None] | None = None,
          **settings: Any) -> IndexedBank:
    bank = plain_bank(name, rows(hexes), labels(names or [None] * len(hexes)))
    return IndexedBank(rule(name, **settings), bank, HashIndex(bank.hashes))


@dataclass(frozen=True)
class Video:
    """A video entry: its id, label, and frames as (pdq hex, quality, time)."""

    id: str
    frames: Sequence[tuple[str, int, float]]
    label: str | None = None


def videos(name: str, entries: Sequence[Video], **settings: Any) -> IndexedBank:
    flat = [(e, frame) for e, video in enumerate(entries) for frame in video.frames]
    times = np.array([t for _, (_, _, t) in flat], np.float32)
    bank = Bank(name, rows([h for _, (h, _, _) in flat]),
                np.array([q for _, (_, q, _) in flat], np.uint8), times,
                np.array([e for e, _ in flat], np.int32),
                Entries(labels([v.id for v in entries]), labels([v.label for v in entries]),
                        np.array([max((t for _, _, t in v.frames), default=0.0)
                                  for v in entries], np.float32),
                        np.array([len(v.frames) for v in entries], np.int32)),
                files=len(entries))
    return IndexedBank(rule(name, **settings), bank, HashIndex(bank.hashes))


def random_hashes(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(count)]


def flip(hex_hash: str, bits: int, seed: int = 1) -> str:
    """The hash with `bits` of its bits flipped."""
    unpacked = np.unpackbits(np.frombuffer(bytes.fromhex(hex_hash), np.uint8))
    chosen = np.random.default_rng(seed).choice(256, bits, replace=False)
    unpacked[chosen] ^= 1
    return np.packbits(unpacked).tobytes().hex()


@dataclass(frozen=True)
class Closest:
    """A bank's closest upload frame (what the store tests check: what is served)."""

    list_name: str
    action: str
    label: str | None
    distance: int
    at_s: float


def closest(store: Any, frames: Sequence[Any], pts_s: Sequence[float]) -> list[Closest]:
    """Per served bank the closest frame (of at least the rule's quality) within its distance
    of any hash, the earliest on a tie; the label is the entry's, else a video entry's id."""
    found = []
    for served in store.lists:
        rule, bank = served.rule, served.bank
        kept = [i for i, frame in enumerate(frames) if frame.quality >= rule.min_quality]
        if not kept or not len(bank):
            continue
        query, row, distance = served.index.search(rows([frames[i].pdq for i in kept]),
                                                   rule.max_distance)
        if not len(row):
            continue
        best = int(np.lexsort((query, distance))[0])
        entry = int(bank.entry_of[row[best]])
        label = bank.entries.labels[entry]
        if label is None and bank.entry_kind(entry) == "video":
            label = bank.entry_id(entry)
        found.append(Closest(rule.name, rule.action, label, int(distance[best]),
                             pts_s[kept[int(query[best])]]))
    return found
