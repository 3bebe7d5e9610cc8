"""An upload's frame hashes against banks of known content: per (bank, entry) how close, how
much of the upload and how much of the entry match, and whether the bank's rule holds. Pure.

A frame-by-frame rule ("any one frame within max_distance") is right for a list of image
hashes, but a video entry matched by one frame of a 20-minute upload is usually a shared
intro, a logo or a black-ish frame, not a re-upload. So, as vPDQ does, a video entry is
matched on two shares:
- query share: the share of the upload's analysed frames (quality >= the bank's min_quality)
  having any of their hashes (content box, its mirror image, the whole frame) within
  max_distance of one of the entry's frames;
- compared share: the share of the entry's duration covered by the entry frames so matched
  (each frame covers its slot up to the next one; the last one a typical slot; a one-hash
  entry counts 1.0 once matched).
Entry frames below min_quality are left out on both sides, as the vPDQ reference does.

Allow banks hold known false positives: the upload frames an allow entry matches are taken out
of every other bank's matching, so a match that rested on them no longer holds (it is reported
as suppressed, with the allow bank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from consumer.media.frame_hash import FrameHash
from consumer.signals.known_content.bank import Bank, EntryKind, IndexedBank
from consumer.signals.known_content.settings import HashListRule

Variant = Literal["box", "mirror", "full"]
VARIANTS: tuple[Variant, ...] = ("box", "mirror", "full")  # what a query hash is of
ALLOW = "allow"


@dataclass(frozen=True)
class Queries:
    """Every non-empty hash of every frame, flattened: `M` query rows."""

    hashes: npt.NDArray[np.uint8]  # [M, 32]
    frame: npt.NDArray[np.int64]  # [M] the upload frame each row is of
    variant: npt.NDArray[np.int64]  # [M] index into VARIANTS
    qualities: npt.NDArray[np.int64]  # [F] each upload frame's quality


@dataclass(frozen=True)
class EntryMatch:
    """One bank entry matched by an upload."""

    bank: str
    action: str  # the bank's action: block, review, shadow or allow
    entry: int  # row in the bank's entries
    entry_id: str
    kind: EntryKind
    label: str | None
    distance: int  # the closest pair's bit distance
    at_s: float  # the upload frame of the closest pair
    entry_at_s: float  # the entry frame of the closest pair
    variant: Variant  # which hash of the upload frame was closest
    query_share: float
    compared_share: float
    covered_s: float  # the upload's time covered by its matching frames (to the next frame)
    decides: bool  # the bank's rule holds (frame: any frame; video: both shares)
    frames: tuple[int, ...]  # the upload frames that match the entry
    suppressed_by: str | None = None  # the allow bank whose entry matched the same frames


def frame_queries(frames: Sequence[FrameHash]) -> Queries:
    """The content box's hash, its mirror image's and the whole frame's, where given."""
    rows: list[bytes] = []
    frame_of: list[int] = []
    variant_of: list[int] = []
    for f, frame in enumerate(frames):
        given = (frame.pdq, frame.mirror_pdq, frame.full_pdq)
        for v, hex_hash in enumerate(given):
            if hex_hash:
                rows.append(bytes.fromhex(hex_hash))
                frame_of.append(f)
                variant_of.append(v)
    hashes = np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), 32)
    return Queries(hashes, np.array(frame_of, np.int64), np.array(variant_of, np.int64),
                   np.array([frame.quality for frame in frames], np.int64))


def entry_matches(indexed: IndexedBank, queries: Queries, pts_s: Sequence[float],
                  duration_s: float | None = None, *,
                  excluded: frozenset[int] = frozenset()) -> list[EntryMatch]:
    """Every entry of one bank that any eligible upload frame (not in `excluded`) comes within
    max_distance of, whether or not the bank's rule holds (`decides`). One index search."""
    rule, bank = indexed.rule, indexed.bank
    eligible = queries.qualities >= rule.min_quality
    if excluded:
        eligible[list(excluded)] = False
    analysed = int(np.count_nonzero(queries.qualities >= rule.min_quality))
    use = np.flatnonzero(eligible[queries.frame])
    if not analysed or not len(use) or not len(bank):
        return []
    q_no, rows, distances = indexed.index.search(queries.hashes[use], rule.max_distance)
    keep = bank.qualities[rows] >= rule.min_quality
    q_no, rows, distances = use[q_no[keep]], rows[keep], distances[keep]
    if not len(rows):
        return []
    frames, variants = queries.frame[q_no], queries.variant[q_no]
    entries = bank.entry_of[rows].astype(np.int64)
    order = np.lexsort((rows, variants, frames, distances, entries))  # entry, then closest
    frames, variants, rows, distances, entries = (
        frames[order], variants[order], rows[order], distances[order], entries[order])
    starts = np.flatnonzero(np.r_[True, entries[1:] != entries[:-1]])
    ends = np.r_[starts[1:], len(entries)]
    slots = _upload_slots(pts_s, duration_s)
    offsets = np.r_[0, np.cumsum(bank.entries.frames, dtype=np.int64)]
    found = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        e = int(entries[a])
        matched = tuple(sorted(set(frames[a:b].tolist())))
        query_share = len(matched) / analysed
        compared_share = _compared_share(bank, e, rows[a:b], offsets, rule.min_quality)
        kind = bank.entry_kind(e)
        decides = rule_holds(rule, kind, query_share, compared_share)
        found.append(EntryMatch(
            bank=rule.name, action=rule.action, entry=e, entry_id=bank.entry_id(e), kind=kind,
            label=bank.entries.labels[e], distance=int(distances[a]),
            at_s=float(pts_s[int(frames[a])]), entry_at_s=float(bank.times_s[rows[a]]),
            variant=VARIANTS[int(variants[a])], query_share=query_share,
            compared_share=compared_share, covered_s=float(slots[list(matched)].sum()),
            decides=decides, frames=matched))
    return found


def rule_holds(rule: HashListRule, kind: EntryKind, query_share: float,
               compared_share: float) -> bool:
    """A bank's rule for one entry: any frame (`frame`, a one-hash entry under `auto`), or
    both shares at their bars (`video`, a video entry under `auto`)."""
    mode = rule.match if rule.match != "auto" else kind
    return mode == "frame" or (query_share >= rule.min_query_share
                               and compared_share >= rule.min_compared_share)


def match_banks(banks: Sequence[IndexedBank], frames: Sequence[FrameHash],
                pts_s: Sequence[float], duration_s: float | None = None) -> list[EntryMatch]:
    """The entries whose bank's rule holds, allow banks first: an allow entry's upload frames
    are taken out of the other banks' matching; a match that held only thanks to them is
    returned with `suppressed_by` (it acts on nothing)."""
    if not frames:
        return []
    queries = frame_queries(frames)
    found: list[EntryMatch] = []
    allowed: dict[int, str] = {}  # upload frame -> the allow bank that matched it
    for indexed in banks:
        if indexed.rule.action == ALLOW:
            for match in entry_matches(indexed, queries, pts_s, duration_s):
                if match.decides:
                    found.append(match)
                    for f in match.frames:
                        allowed.setdefault(f, match.bank)
    for indexed in banks:
        if indexed.rule.action == ALLOW:
            continue
        held = [m for m in entry_matches(indexed, queries, pts_s, duration_s) if m.decides]
        if allowed and held:
            after = {m.entry: m for m in entry_matches(
                indexed, queries, pts_s, duration_s, excluded=frozenset(allowed)) if m.decides}
            held = [after.get(m.entry) or _suppressed(m, allowed) for m in held]
        found += held
    return found


def _suppressed(match: EntryMatch, allowed: dict[int, str]) -> EntryMatch:
    by = next(allowed[f] for f in match.frames if f in allowed)
    return replace(match, suppressed_by=by)


def _upload_slots(pts_s: Sequence[float], duration_s: float | None) -> npt.NDArray[np.float64]:
    """Each upload frame's time up to the next one (the last: up to the end of the video)."""
    times = np.asarray(pts_s, np.float64)
    if not len(times):
        return times
    end = max(float(duration_s or 0.0), float(times.max()))
    order = np.argsort(times, kind="stable")
    slots = np.empty_like(times)
    slots[order] = np.diff(np.r_[times[order], end])
    return np.maximum(slots, 0.0)


def _compared_share(bank: Bank, entry: int, matched_rows: npt.NDArray[np.int64],
                    offsets: npt.NDArray[np.int64], min_quality: int) -> float:
    """Share of the entry's duration its matched frames cover (slots to the next frame)."""
    rows = _entry_rows(bank, entry, offsets)
    rows = rows[bank.qualities[rows] >= min_quality]
    if len(rows) <= 1:
        return 1.0
    times = bank.times_s[rows].astype(np.float64)
    order = np.argsort(times, kind="stable")
    gaps = np.diff(times[order])
    positive = gaps[gaps > 0]
    if not len(positive):  # no timeline: every frame counts the same
        weights = np.ones(len(rows))
    else:
        weights = np.empty(len(rows))
        weights[order] = np.r_[gaps, np.median(positive)]
    hit = np.isin(rows, matched_rows)
    return float(weights[hit].sum() / weights.sum())


def _entry_rows(bank: Bank, entry: int, offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The entry's hash rows: its contiguous run where the bank is laid out entry by entry (as
    loaders write it), else a scan."""
    start, end = int(offsets[entry]), int(offsets[entry + 1])
    if end <= len(bank.entry_of) and np.all(bank.entry_of[start:end] == entry):
        return np.arange(start, end, dtype=np.int64)
    return np.flatnonzero(bank.entry_of == entry).astype(np.int64)
