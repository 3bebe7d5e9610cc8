"""The sampling plan is pure: targets and the online keyframe picker, no media needed."""

from __future__ import annotations

import pytest

from consumer.media.sampler import KeyframePicker, sample_targets


def _pick(keyframes: list[float], targets: list[float], min_interval_s: float = 0.0,
          max_picks: int = 100) -> list[float]:
    picker = KeyframePicker(targets, min_interval_s, max_picks)
    decoded: list[float] = []
    for time_s in keyframes:
        decoded += picker.offer(time_s)
        if picker.done:
            break
    else:
        decoded += picker.finish()
    assert decoded == picker.picked
    return decoded


def test_targets_are_slice_centres_capped_by_count_and_interval() -> None:
    assert sample_targets(60.0, 4, 1.0) == [7.5, 22.5, 37.5, 52.5]
    assert sample_targets(3.0, 16, 1.0) == [0.5, 1.5, 2.5]
    assert sample_targets(0.4, 16, 1.0) == [pytest.approx(0.2)]


def test_unknown_duration_has_no_targets() -> None:
    assert sample_targets(0.0, 16, 1.0) == []


def test_each_target_takes_the_latest_keyframe_at_or_before_it() -> None:
    keyframes = [0.0, 2.0, 4.0, 6.0, 8.0]
    assert _pick(keyframes, [1.0, 5.0, 9.0]) == [0.0, 4.0, 8.0]


def test_a_keyframe_shared_by_several_targets_is_decoded_once() -> None:
    assert _pick([0.0, 10.0, 20.0], [1.0, 3.0, 5.0, 11.0, 13.0, 21.0]) == [0.0, 10.0, 20.0]


def test_first_keyframe_after_the_first_target_still_counts() -> None:
    assert _pick([3.0, 6.0], [1.0, 4.0, 7.0]) == [3.0, 6.0]


def test_picks_never_crowd_each_other_below_the_minimum_interval() -> None:
    picked = _pick([0.0, 0.9, 1.1, 1.95, 3.0, 3.1], [0.95, 2.0, 3.05], min_interval_s=1.0)
    assert picked == [0.9, 1.95, 3.0]


def test_the_cap_stops_the_pass_early() -> None:
    picker = KeyframePicker([], min_interval_s=1.0, max_picks=2)
    assert picker.offer(0.0) == [0.0]
    assert picker.offer(0.5) == []
    assert picker.offer(1.5) == [1.5]
    assert picker.done


def test_scan_stops_once_the_last_target_is_served() -> None:
    picker = KeyframePicker([1.0, 3.0], 0.0, 10)
    for time_s in (0.0, 2.0, 4.0):
        picker.offer(time_s)
    assert picker.done and picker.picked == [0.0, 2.0]
