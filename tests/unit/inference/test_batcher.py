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
