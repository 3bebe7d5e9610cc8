"""The coverage plan is pure: whatever the keyframe spacing, no unseen gap exceeds the bound,
and regular keyframes are used as they are (nothing else decoded)."""

from __future__ import annotations

from bisect import bisect_right

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.media.coverage import (
    CoveragePicker,
    coverage_of,
    largest_gap,
    plan_samples,
    sample_targets,
)


def test_targets_are_slice_centres_capped_by_count_and_interval() -> None:
    assert sample_targets(60.0, 4, 1.0) == [7.5, 22.5, 37.5, 52.5]
    assert sample_targets(3.0, 16, 1.0) == [0.5, 1.5, 2.5]
    assert sample_targets(0.4, 16, 1.0) == [pytest.approx(0.2)]


def test_unknown_duration_has_no_targets_and_no_plan() -> None:
    assert sample_targets(0.0, 16, 1.0) == []
    assert plan_samples([0.0, 1.0], 0.0, 16, 1.0).samples == []


def test_a_single_keyframe_is_used_once_and_the_rest_is_decoded_at_the_targets() -> None:
    plan = plan_samples([0.0], 60.0, 16, 1.0, frame_s=1 / 30)
    assert len(plan.samples) == 16
    assert plan.keyframe_times == [0.0]
    assert all(s.start_s == 0.0 for s in plan.decode_targets)
    assert plan.max_gap_s == pytest.approx(5.625)
    assert largest_gap([s.time_s for s in plan.samples], 60.0) <= plan.max_gap_s


@pytest.mark.parametrize("gop_s", [0.5, 1.0, 2.0, 3.75])
def test_regular_keyframes_that_can_keep_the_bound_are_all_that_is_decoded(gop_s: float) -> None:
    keyframes = [i * gop_s for i in range(int(60 / gop_s))]
    plan = plan_samples(keyframes, 60.0, 16, 1.0, frame_s=1 / 30)
    assert plan.decode_targets == []
    assert len(plan.samples) == 16
    assert largest_gap(plan.keyframe_times, 60.0) <= plan.max_gap_s


def test_asking_for_every_keyframe_gets_every_keyframe() -> None:
    """One sample per GOP (the benchmark's setting) decodes exactly today's keyframes."""
    for gop_s, count in ((2.0, 30), (10.0, 6)):
        keyframes = [i * gop_s for i in range(count)]
        plan = plan_samples(keyframes, 60.0, count, 0.0)
        assert plan.keyframe_times == keyframes


def test_a_gop_too_long_for_16_keyframes_to_keep_the_bound_decodes_a_few_targets() -> None:
    """Every 3 s: 16 keyframes span at most 48 s within 5.6 s gaps, so some are decoded."""
    plan = plan_samples([i * 3.0 for i in range(20)], 60.0, 16, 1.0, frame_s=1 / 30)
    assert 0 < len(plan.decode_targets) <= 4
    assert largest_gap([s.time_s for s in plan.samples], 60.0) <= plan.max_gap_s


def test_sparse_keyframes_mix_keyframes_and_decoded_targets() -> None:
    plan = plan_samples([0.0, 10.0, 20.0, 30.0, 40.0, 50.0], 60.0, 16, 1.0, frame_s=1 / 30)
    assert set(plan.keyframe_times) == {0.0, 10.0, 20.0, 30.0, 40.0, 50.0}
    for sample in plan.decode_targets:
        assert sample.start_s == 10 * (sample.time_s // 10)
    assert largest_gap([s.time_s for s in plan.samples], 60.0) <= plan.max_gap_s


def test_a_keyframe_on_the_border_of_two_windows_serves_one_of_them() -> None:
    plan = plan_samples([0.0, 0.5, 1.0, 1.5], 2.0, 64, 0.0)
    times = [s.time_s for s in plan.samples]
    assert len(times) == 64 and len(set(times)) == 64
    assert plan.keyframe_times == [0.0, 0.5, 1.0, 1.5]


def test_a_header_that_overstates_nothing_hides_the_end() -> None:
    """Keyframes only in the first half: the second half is planned as decodes."""
    plan = plan_samples([0.0, 2.0, 4.0, 6.0, 8.0, 10.0], 60.0, 16, 1.0)
    assert max(plan.keyframe_times) <= 10.0
    assert [s.time_s for s in plan.samples][-1] > 55.0


KEYFRAMES = st.lists(st.floats(0, 600, allow_nan=False), max_size=80)


@settings(max_examples=300, deadline=None)
@given(KEYFRAMES, st.floats(0.05, 600), st.integers(1, 64), st.sampled_from([0.0, 0.5, 1.0]),
       st.sampled_from([0.0, 1 / 60, 1 / 24, 0.5]))
def test_no_plan_leaves_a_gap_over_the_bound(keyframes: list[float], duration_s: float,
                                             count: int, min_interval_s: float,
                                             frame_s: float) -> None:
    keys = sorted(set(k for k in keyframes if k <= duration_s))
    plan = plan_samples(keys, duration_s, count, min_interval_s, frame_s)
    times = [s.time_s for s in plan.samples]
    assert len(times) == len(sample_targets(duration_s, count, min_interval_s))
    assert times == sorted(times) and len(set(times)) == len(times)
    assert largest_gap(times, duration_s) <= plan.max_gap_s + 1e-6
    for sample in plan.samples:
        if sample.keyframe:
            assert sample.time_s in keys
        else:
            before = bisect_right(keys, sample.time_s + 1e-6)
            assert sample.start_s == (keys[before - 1] if before else None)


@settings(max_examples=100, deadline=None)
@given(KEYFRAMES, st.floats(1, 300), st.integers(1, 32))
def test_the_online_picker_closes_each_window_as_the_offline_plan_does(
        keyframes: list[float], duration_s: float, count: int) -> None:
    keys = sorted(set(k for k in keyframes if k <= duration_s))
    picker = CoveragePicker(duration_s, count, 1.0)
    online = []
    for key in keys:
        online += picker.offer(key)
    online += picker.finish()
    assert online == plan_samples(keys, duration_s, count, 1.0).samples


def test_coverage_measures_the_largest_unseen_stretch() -> None:
    assert largest_gap([], 60.0) == 60.0
    assert largest_gap([10.0, 20.0], 60.0) == 40.0
    assert largest_gap([5.0, 30.0, 55.0], 60.0) == 25.0
    full = coverage_of([2.0, 6.0, 10.0], 12.0, 5.0)
    assert full.complete and full.largest_gap_s == 4.0
    assert not coverage_of([0.0], 60.0, 5.6).complete
    assert not coverage_of([], 60.0, 5.6).complete
    budget = coverage_of([2.0, 6.0, 10.0], 12.0, 5.0, stopped_by="decode_budget")
    assert not budget.complete and budget.as_json()["stopped_by"] == "decode_budget"
    assert coverage_of([2.0, 7.05], 10.0, 5.0, tolerance_s=0.1).complete


def test_a_frame_counts_as_seen_until_the_next_frame_replaces_it() -> None:
    """Variable frame rate: frames at 0.7 s and 1.5 s, nothing between (a still)."""
    frames = [0.0, 0.04, 0.3, 0.31, 0.7, 1.5, 1.51, 2.0, 2.6, 2.7]
    analysed = [0.31, 0.7, 1.5, 2.0, 2.6]
    assert largest_gap(analysed, 2.8) == pytest.approx(0.8)  # 0.7 -> 1.5, without frames
    assert largest_gap(analysed, 2.8, frames) == pytest.approx(0.49)  # 1.51 -> 2.0
    assert coverage_of(analysed, 2.8, 0.5, frame_times_s=frames).complete
