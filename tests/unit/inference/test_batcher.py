from __future__ import annotations

import numpy as np
import pytest

from consumer.inference.batcher import MicroBatcher


def _frames(n: int, value: int = 0) -> np.ndarray:
    return np.full((n, 4, 4, 3), value, np.uint8)


def test_rows_from_several_videos_fill_one_batch() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=8, deadline_s=0.05, max_queued=64)
    for i, video in enumerate(("a", "b", "c")):
        batcher.add(video, _frames(3, i), now=0.0)
    batch = batcher.take(now=0.0)
    assert batch is not None and len(batch) == 8
    assert [r.owner for r in batch.rows] == ["a"] * 3 + ["b"] * 3 + ["c"] * 2
    assert np.stack(batch.pixels()).shape == (8, 4, 4, 3)
    assert len(batcher) == 1


def test_partial_batch_waits_for_the_deadline() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=8, deadline_s=0.05, max_queued=64)
    batcher.add("a", _frames(2), now=10.0)
    assert batcher.take(now=10.01) is None
    assert batcher.due_in(10.01) == pytest.approx(0.04)
    batch = batcher.take(now=10.06)
    assert batch is not None and len(batch) == 2


def test_flush_cuts_a_partial_batch_at_once() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=8, deadline_s=10, max_queued=64)
    batcher.add("a", _frames(1), now=0.0)
    assert batcher.take(now=0.0, flush=True) is not None
    assert batcher.due_in(0.0) is None


def test_queue_bound_is_a_visible_error() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=4, deadline_s=0, max_queued=4)
    batcher.add("a", _frames(3), now=0)
    assert not batcher.has_room(2)
    with pytest.raises(OverflowError, match="limit 4"):
        batcher.add("b", _frames(2), now=0)


def test_requeued_batch_goes_out_first_and_keeps_its_age() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=2, deadline_s=1, max_queued=8)
    batcher.add("old", _frames(2), now=0)
    first = batcher.take(now=0)
    assert first is not None
    batcher.add("new", _frames(1), now=5)
    batcher.requeue(first)
    again = batcher.take(now=5)
    assert again is not None and [r.owner for r in again.rows] == ["old", "old"]
    assert again.rows[0].queued_at == 0


def test_drop_forgets_rows_of_revoked_videos() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=8, deadline_s=1, max_queued=8)
    batcher.add("keep", _frames(2), now=0)
    batcher.add("gone", _frames(3), now=0)
    assert batcher.drop({"gone"}) == 3
    assert len(batcher) == 2


def test_an_isolated_video_goes_out_alone_fewest_rows_first_and_never_mixed() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=8, deadline_s=0.05, max_queued=64)
    batcher.add("big", _frames(5), now=0.0)
    batcher.add("small", _frames(2), now=0.0)
    batcher.add("other", _frames(3), now=0.0)
    batcher.isolate("big")
    batcher.isolate("small")
    first = batcher.take(now=0.0)
    assert first is not None and first.solo and {r.owner for r in first.rows} == {"small"}
    second = batcher.take(now=0.0)
    assert second is not None and second.solo and [r.owner for r in second.rows] == ["big"] * 5
    rest = batcher.take(now=1.0)
    assert rest is not None and not rest.solo and [r.owner for r in rest.rows] == ["other"] * 3


def test_without_solo_isolated_rows_wait_and_the_others_still_go() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=4, deadline_s=0.05, max_queued=64)
    batcher.add("slow", _frames(3), now=0.0)
    batcher.add("a", _frames(2), now=0.0)
    batcher.isolate("slow")
    assert batcher.due_in(0.0, solo=False) == pytest.approx(0.05), "only a's rows count"
    batch = batcher.take(now=0.1, solo=False)
    assert batch is not None and [r.owner for r in batch.rows] == ["a", "a"]
    assert batcher.due_in(0.1, solo=False) is None, "nothing may go: no spinning"
    assert batcher.due_in(0.1) == 0.0, "the isolated video is due as soon as it may go"


def test_an_isolated_video_is_released_once_its_rows_are_out_and_on_drop() -> None:
    batcher: MicroBatcher[str] = MicroBatcher(max_size=4, deadline_s=0.05, max_queued=64)
    batcher.add("x", _frames(2), now=0.0)
    batcher.isolate("x")
    solo = batcher.take(now=0.0)
    assert solo is not None and solo.solo
    batcher.requeue(solo)  # back after an outage, not a timeout: mixed again
    batcher.add("y", _frames(2), now=0.0)
    mixed = batcher.take(now=0.0)
    assert mixed is not None and not mixed.solo and len(mixed) == 4
    batcher.add("z", _frames(1), now=0.0)
    batcher.isolate("z")
    assert batcher.drop({"z"}) == 1
    batcher.add("w", _frames(4), now=0.0)
    full = batcher.take(now=0.0)
    assert full is not None and not full.solo
