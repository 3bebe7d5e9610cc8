"""Applying decisions: once, latest by time wins whatever the order; the sqlite state."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from consumer.review.apply import Effective, change_of, matched_entries
from consumer.review.banks import entry_of_frames, put_entry, remove_entry
from consumer.review.decisions import ReviewDecision
from consumer.review.state import StateStore
from consumer.signals.known_content.bank_files import read_bank
from consumer.signals.known_content.settings import HashListRule

T0 = datetime(2026, 1, 2, tzinfo=UTC)
MATCH = [{"category": "known_content_match", "hash_list": "banned", "entry": "case-17",
          "action": "block"}, {"category": "nsfw", "score": 0.9}]


def _d(did: str, kind: str, minutes: int) -> ReviewDecision:
    return ReviewDecision(did, "v1", "v1id", kind, ("nsfw",), "r", T0 + timedelta(minutes=minutes))


def _final(order: list[ReviewDecision]) -> tuple[Effective | None, list[str]]:
    """Apply in this order the way the loop does; the final state and the outcomes."""
    seen: set[str] = set()
    current: Effective | None = None
    outcomes = []
    for decision in order:
        change = change_of(decision, seen=decision.decision_id in seen, current=current,
                           reasons=MATCH)
        outcomes.append(change.outcome)
        if change.outcome == "applied":
            current = change.effective
        seen.add(decision.decision_id)
    return current, outcomes


def test_latest_by_time_decides_in_every_arrival_order_and_replays_apply_once() -> None:
    decisions = [_d("a", "violating", 0), _d("b", "not_violating", 5), _d("c", "violating", 9)]
    for order in itertools.permutations(decisions):
        final, outcomes = _final([*order, *order])  # then all replayed
        assert final is not None and final.decision_id == "c" and final.confirmed
        assert outcomes[3:] == ["duplicate"] * 3
        assert outcomes.count("applied") + outcomes.count("superseded") == 3


def test_a_later_not_violating_unbanks_and_allows_the_matched_entry() -> None:
    first = change_of(_d("a", "violating", 0), seen=False, current=None, reasons=MATCH)
    assert first.confirm and not first.allow
    second = change_of(_d("b", "not_violating", 1), seen=False, current=first.effective,
                       reasons=MATCH)
    assert second.unconfirm and not second.confirm
    assert second.allow == (("banned", "case-17"),)
    late = change_of(_d("z", "violating", -10), seen=False, current=second.effective,
                     reasons=MATCH)
    assert late.outcome == "superseded" and not (late.confirm or late.unconfirm or late.allow)
    again = change_of(_d("c", "violating", 2), seen=False, current=second.effective,
                      reasons=MATCH)
    assert again.confirm and again.disallow == (("banned", "case-17"),)


def test_matched_entries_skip_plain_list_matches_and_repeats() -> None:
    reasons = [*MATCH, MATCH[0], {"category": "known_content_match", "hash_list": "plain"}]
    assert matched_entries(reasons) == (("banned", "case-17"),)


def test_state_store_keeps_verdicts_decisions_positions_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = StateStore(path)
    with store.transaction():
        store.put_signals({"verdict_id": "v1id", "video_id": "v1", "verdict": "block",
                           "reasons": MATCH, "scores": {"nsfw": 0.9},
                           "frames": {"at_s": [0.0]}, "uploaded_at": "2026-01-01T00:00:00Z"})
        store.advance("signals", 2, 41)
    decision = _d("a", "violating", 0)
    change = change_of(decision, seen=False, current=None, reasons=MATCH)
    assert change.effective is not None
    try:
        with store.transaction():
            store.record(decision, "applied")
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    assert not store.seen("a")  # rolled back with everything in its transaction
    with store.transaction():
        store.record(decision, "applied")
        store.set_effective("v1", change.effective)
    store.close()
    again = StateStore(path)
    assert again.position("signals", 2) == 42 and again.position("signals", 0) is None
    assert again.seen("a") and again.effective("v1") == change.effective
    assert again.verdict("v1id")["reasons"] == MATCH  # type: ignore[index]
    rows = list(again.decisions())
    assert rows[0]["verdict"] == "block" and rows[0]["scores"] == {"nsfw": 0.9}


def test_bank_entry_written_atomically_and_removed(tmp_path: Path) -> None:
    frames = {"at_s": [1.0, 0.0, 2.0], "pdq": ["b" * 64, "a" * 64, ""],
              "quality": [80, 90, 0]}
    entry = entry_of_frames("vid/1", frames)
    path = put_entry(str(tmp_path / "bank"), entry)
    assert Path(path).name == "vid_1.txt"
    assert Path(path).read_text() == f"0,90,{'a' * 64},0.000\n1,80,{'b' * 64},1.000\n"
    assert [p.name for p in (tmp_path / "bank").iterdir()] == ["vid_1.txt"]  # no temp left
    assert remove_entry(str(tmp_path / "bank"), "vid/1")
    assert not remove_entry(str(tmp_path / "bank"), "vid/1")
    json.dumps(frames)


def test_a_confirmed_entry_reads_back_as_one_video_entry_of_a_bank(tmp_path: Path) -> None:
    from consumer.review.banks import entry_from_bank

    frames = {"at_s": [0.0, 0.5], "pdq": ["a" * 64, "c" * 64], "quality": [90, 70]}
    put_entry(str(tmp_path), entry_of_frames("v1", frames, label="decision-7"))
    read = read_bank(HashListRule(name="confirmed", path=str(tmp_path))).bank
    assert (read.entry_id(0), read.entries.labels[0]) == ("v1", "decision-7")
    copy = entry_from_bank("confirmed", str(tmp_path), "v1", label="decision-8")
    assert (copy.entry_id, copy.label) == ("confirmed.v1", "decision-8")
    assert [(f.pdq, f.quality, f.at_s) for f in copy.frames] == [("a" * 64, 90, 0.0),
                                                                   ("c" * 64, 70, 0.5)]
