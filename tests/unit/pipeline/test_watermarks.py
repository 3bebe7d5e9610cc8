from __future__ import annotations

import random

import pytest

from consumer.pipeline.watermarks import Watermarks

TP = ("video.uploads", 3)


def test_watermark_waits_for_the_lowest_unfinished_offset() -> None:
    tracker = Watermarks()
    for offset in (10, 11, 12):
        tracker.start(TP, offset)
    tracker.done(TP, 12)
    tracker.done(TP, 11)
    assert tracker.to_commit() == {}
    tracker.done(TP, 10)
    assert tracker.to_commit() == {TP: 13}


def test_gaps_in_offsets_do_not_block_the_watermark() -> None:
    tracker = Watermarks()
    for offset in (5, 9, 20):  # compaction or transaction markers leave gaps
        tracker.start(TP, offset)
    tracker.done(TP, 5)
    tracker.done(TP, 9)
    assert tracker.to_commit() == {TP: 10}


def test_committed_positions_are_not_offered_again() -> None:
    tracker = Watermarks()
    tracker.start(TP, 0)
    tracker.done(TP, 0)
    tracker.mark_committed(tracker.to_commit())
    assert tracker.to_commit() == {}
    tracker.start(TP, 1)
    tracker.done(TP, 1)
    assert tracker.to_commit() == {TP: 2}


def test_revoke_returns_final_position_and_forgets_the_partition() -> None:
    tracker = Watermarks()
    for offset in range(4):
        tracker.start(TP, offset)
    tracker.done(TP, 0)
    tracker.done(TP, 2)
    assert tracker.revoke([TP]) == {TP: 1}
    assert tracker.inflight() == 0
    tracker.done(TP, 1)  # late completion of dropped work: ignored
    assert tracker.to_commit() == {}


def test_out_of_order_start_is_a_bug() -> None:
    tracker = Watermarks()
    tracker.start(TP, 7)
    with pytest.raises(ValueError, match=r"video.uploads\[3\]@7"):
        tracker.start(TP, 7)


def test_random_completion_order_commits_exactly_the_contiguous_prefix() -> None:
    rng = random.Random(42)
    tracker = Watermarks()
    offsets = list(range(200))
    for offset in offsets:
        tracker.start(TP, offset)
    finished: set[int] = set()
    committed = 0
    for offset in rng.sample(offsets, len(offsets)):
        tracker.done(TP, offset)
        finished.add(offset)
        prefix = committed
        while prefix in finished:
            prefix += 1
        assert tracker.to_commit() == ({TP: prefix} if prefix != committed else {})
        tracker.mark_committed(tracker.to_commit())
        committed = prefix
    assert committed == 200
    assert tracker.inflight(TP) == 0
