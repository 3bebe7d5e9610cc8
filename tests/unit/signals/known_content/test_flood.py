"""Flood quarantine: an entry matching more than N distinct videos within the window is
quarantined; memory stays bounded; entries leave quarantine as the window passes."""

from __future__ import annotations

from consumer.signals.known_content.flood import FloodGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_more_than_n_distinct_videos_within_the_window_quarantines_the_entry() -> None:
    clock = Clock()
    guard = FloodGuard(max_videos=2, window_s=60, max_entries=10, clock=clock)
    key = ("cases", "v1")
    assert not guard.record(key, "a") and not guard.record(key, "b")
    assert not guard.record(key, "a"), "a redelivered video counts once"
    assert guard.quarantined() == {}
    assert guard.record(key, "c")
    assert guard.quarantined() == {"cases": 1}
    assert not guard.record(("cases", "v2"), "c"), "entries are counted apart"
    clock.now += 61
    assert guard.quarantined() == {}, "the window passed"
    assert not guard.record(key, "d")


def test_videos_spread_wider_than_the_window_never_quarantine() -> None:
    clock = Clock()
    guard = FloodGuard(max_videos=2, window_s=60, max_entries=10, clock=clock)
    for video in "abcdefgh":
        assert not guard.record(("cases", "v1"), video)
        clock.now += 31


def test_memory_is_bounded_per_entry_and_in_entries() -> None:
    clock = Clock()
    guard = FloodGuard(max_videos=3, window_s=3600, max_entries=5, clock=clock)
    for i in range(100):
        guard.record(("cases", "hot"), f"video-{i}")
        guard.record(("cases", f"e{i}"), "x")
        clock.now += 1
    assert len(guard._seen) == 5
    assert all(len(videos) <= 4 for videos in guard._seen.values())
    assert guard.record(("cases", "hot"), "one more"), "the hot entry is still remembered"


def test_zero_turns_it_off() -> None:
    guard = FloodGuard(max_videos=0, window_s=60, max_entries=10)
    assert not any(guard.record(("cases", "v1"), str(i)) for i in range(50))
    assert guard.quarantined() == {}
