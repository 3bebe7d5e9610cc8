"""Against the real Prometheus: every panel query of the review dashboard
(k8s/monitoring/dashboards/vmc-review.json) returns data, from `vmc run` (review tasks) and
then from `vmc decisions` (calibration), each serving its metrics on the port the stack's
Prometheus scrapes; and the precision it shows is the one the decisions make.

The policy reviews every scored video (nsfw review threshold 0: the precision panel has a
point) and one video is blocked by a known-content list (its `not_violating` decision is an
overturn: the overturn panel has a point)."""

from __future__ import annotations

import json
import math
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consumer.media import ResizeSpec, extract_keyframes
from consumer.settings import KafkaTopics, Settings, SourceSettings
from tests.integration.conftest import RunningStack
from tests.integration.observability.test_dashboards_and_health import (
    TEMPLATE_VALUES,
    _series,
)
from tests.integration.pipeline.conftest import (
    VmcProcess,
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    uploads,
)
from tests.integration.pipeline.review_helpers import after, decision, loop_topics, send
from tests.unit.media.configs import decode_config

DASHBOARD = Path(__file__).resolve().parents[3] / "k8s/monitoring/dashboards/vmc-review.json"
TASKS_PANEL = "Review tasks published"


def _panel_queries() -> dict[str, str]:
    out = {}
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in TEMPLATE_VALUES.items():
                expr = expr.replace(name, value)
            out[f"{panel['title']} [{target['refId']}]"] = expr
    return out


def _with_data(prometheus: str, queries: dict[str, str], timeout_s: float) -> dict[str, str]:
    """Wait until each query returns a series with a number (not NaN); returns those that
    never did."""
    missing = dict(queries)
    deadline = time.monotonic() + timeout_s
    while missing and time.monotonic() < deadline:
        for title, expr in list(missing.items()):
            if any(math.isfinite(float(s["value"][1])) for s in _series(prometheus, expr)):
                del missing[title]
        time.sleep(2)
    return missing


def _settings(stack: RunningStack, names: KafkaTopics, unique: str, tmp_path: Path,
              known: Path) -> Settings:
    return pipeline_settings(
        stack, names, f"{unique}-g",
        metrics={"host": "127.0.0.1", "port": stack.consumer_metrics_port,
                 "statistics_interval_s": 1},
        signals={"known_content": {"lists": [{"name": "dash", "path": str(known),
                                              "action": "block", "min_quality": 0}]},
                 "scores": {"categories": {"nsfw": {"review": 0.0, "block": 0.8}}}},
        review={"audit_allow_rate": 1.0, "audit_block_rate": 1.0,
                "state_path": str(tmp_path / "state.sqlite"),
                "decisions_group_id": f"{unique}-decisions"})


def test_every_review_dashboard_query_returns_data_from_run_and_decisions(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    stack_settings: Settings, tmp_path: Path,
) -> None:
    prometheus = stack.addresses.prometheus_url
    if not prometheus:
        pytest.fail("needs the stack's Prometheus (VMC_PROMETHEUS_URL for an external stack)")
    names = loop_topics(topics, unique, stack_settings)
    known = tmp_path / "known.txt"  # v0's frames are "known": its verdict is block
    frames = extract_keyframes(str(sample_videos[0]), [ResizeSpec(64, "stretch")],
                               decode_config(max_keyframes=2, frame_hashes=True),
                               SourceSettings(allowed_schemes=["file"]))
    known.write_text("".join(f"{h.pdq}\n" for h in frames.hashes))
    settings = _settings(stack, names, unique, tmp_path, known)
    queries = _panel_queries()
    assert len(queries) >= 8 and any(TASKS_PANEL in title for title in queries)
    tasks_panel = {t: e for t, e in queries.items() if TASKS_PANEL in t}

    started = datetime.now(UTC)
    produce(settings, uploads(sample_videos, 3))
    with running_pipeline(settings, observe=True):
        verdicts: dict[str, dict[str, Any]] = {
            json.loads(m.value())["video_id"]: json.loads(m.value())
            for m in read_topic(settings, names.verdicts, expect=3, timeout_s=180)}
        read_topic(settings, names.signals, expect=3, timeout_s=60)
        missing = _with_data(prometheus, tasks_panel, 90)
    assert not missing, f"panels without data while `vmc run` runs: {missing}"
    assert {v: r["verdict"] for v, r in verdicts.items()} == {
        "v0": "block", "v1": "review", "v2": "review"}

    send(settings, names.decisions, [
        decision(verdicts["v0"], "not_violating", after(started, 2)),  # an overturn
        decision(verdicts["v1"], "violating", after(started, 3))])
    process = VmcProcess(settings, tmp_path / "decisions.log", "decisions")
    try:
        seen = _with_data(prometheus, {"read": "consumer_review_decisions_total"}, 90)
        assert not seen, (tmp_path / "decisions.log").read_text()[-3000:]
        # One more decision after the first scrape: the rates have an increase to show.
        send(settings, names.decisions, [
            decision(verdicts["v2"], "violating", after(started, 4))])
        rest = {t: e for t, e in queries.items() if t not in tasks_panel}
        missing = _with_data(prometheus, rest, 90)
        # v0..v2 score at or above review (0); v1 and v2 were confirmed: precision 2/3
        precision = _with_data(prometheus, {"2/3": 'consumer_review_precision_ratio{category='
                                            '"nsfw",threshold="review"} > 0.66 < 0.67'}, 60)
        overturn = _series(prometheus, "consumer_review_overturn_ratio")
        process.signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        process.stop()
    assert not missing, f"panels without data while `vmc decisions` runs: {missing}"
    assert not precision, _series(prometheus, "consumer_review_precision_ratio")
    assert [float(s["value"][1]) for s in overturn] == [1.0]  # v0: a block overturned
