"""Speech probabilities -> segments, Silero's rule."""

from __future__ import annotations

import numpy as np
import pytest

from consumer.signals.speech.segments import FRAME_S, covered_s, merged, speech_segments


def _probabilities(spans: list[tuple[float, float]], total_s: float) -> np.ndarray:
    out = np.full(round(total_s / FRAME_S), 0.05, np.float32)
    for start, end in spans:
        out[round(start / FRAME_S):round(end / FRAME_S)] = 0.9
    return out


def test_segments_follow_the_speech_frames_padded() -> None:
    found = speech_segments(_probabilities([(1.0, 2.0), (4.0, 5.5)], 8.0), 8.0, pad_s=0.03)
    assert len(found) == 2
    for (start, end), (a, b) in zip(found, [(1.0, 2.0), (4.0, 5.5)], strict=True):
        assert start == pytest.approx(a - 0.03, abs=FRAME_S)
        assert end == pytest.approx(b + 0.03, abs=FRAME_S)


def test_a_short_pause_does_not_end_a_segment_but_a_long_one_does() -> None:
    short = speech_segments(_probabilities([(1.0, 2.0), (2.064, 3.0)], 5.0), 5.0)
    assert len(short) == 1
    long = speech_segments(_probabilities([(1.0, 2.0), (2.5, 3.0)], 5.0), 5.0)
    assert len(long) == 2


def test_speech_shorter_than_the_minimum_is_dropped() -> None:
    assert speech_segments(_probabilities([(1.0, 1.1)], 3.0), 3.0, min_speech_s=0.25) == []
    assert len(speech_segments(_probabilities([(1.0, 1.5)], 3.0), 3.0)) == 1


def test_speech_running_to_the_end_is_closed_at_the_end() -> None:
    found = speech_segments(_probabilities([(2.0, 4.0)], 4.0), 4.0)
    assert found[-1][1] == pytest.approx(4.0)


def test_probabilities_between_the_two_thresholds_keep_a_segment_open() -> None:
    probabilities = _probabilities([(1.0, 3.0)], 5.0)
    probabilities[int(1.5 / FRAME_S):int(2.5 / FRAME_S)] = 0.4  # under 0.5, over 0.35
    assert len(speech_segments(probabilities, 5.0)) == 1


def test_no_speech_no_segment() -> None:
    assert speech_segments(np.zeros(100, np.float32), 3.2) == []
    assert speech_segments(np.zeros(0, np.float32), 0.0) == []


def test_merged_and_covered() -> None:
    assert merged([(3.0, 4.0), (0.0, 1.0), (0.5, 2.0)]) == [(0.0, 2.0), (3.0, 4.0)]
    assert covered_s([(0.0, 1.0), (0.5, 2.0), (3.0, 4.0)]) == pytest.approx(3.0)
