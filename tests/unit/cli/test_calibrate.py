"""`vmc calibrate`: thresholds suggested from the decisions consumer's state file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from consumer.cli import main
from consumer.review.decisions import ReviewDecision
from consumer.review.state import StateStore

T0 = datetime(2026, 1, 2, tzinfo=UTC)


def _state(path: Path, decided: list[tuple[float, str]]) -> None:
    store = StateStore(path)
    try:
        with store.transaction():
            for i, (score, decision) in enumerate(decided):
                store.put_signals({"verdict_id": f"v{i}", "video_id": f"video{i}",
                                   "verdict": "review", "scores": {"nsfw": score},
                                   "reasons": [], "frames": {}})
                store.record(ReviewDecision(f"d{i}", f"video{i}", f"v{i}", decision, ("nsfw",),
                                            "r1", T0), "applied")
    finally:
        store.close()


def test_the_lowest_threshold_reaching_the_target_is_suggested(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "review.sqlite"
    _state(state, [(0.95, "violating"), (0.9, "violating"), (0.7, "violating"),
                   (0.65, "not_violating"), (0.6, "violating"), (0.4, "not_violating")])
    assert main(["calibrate", "--state", str(state), "--target-precision", "0.75",
                 "--min-support", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "6 decided verdicts; target precision 0.75"
    (row,) = [line.split() for line in out.splitlines() if line.startswith("nsfw")]
    # served block 0.8: 2 of 2 violating; 0.6 keeps 4 of 5 = 0.8 >= 0.75, 0.4 only 4 of 6.
    assert row[1:4] == ["block", "0.800", "1.000"]
    assert row[4:8] == ["0.600", "0.800", "1.000", "5"]


def test_without_a_state_file_it_says_what_to_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--state", str(tmp_path / "none.sqlite")]) == 1
    assert "run `vmc decisions`" in capsys.readouterr().err
