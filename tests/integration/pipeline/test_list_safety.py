"""Hash lists fail closed against the real broker and tritonserver (issue 24): a list emptied,
truncated, half-written or swapped for a FIFO while the consumer runs is refused, the previous
version keeps blocking the listed content, `/metrics` counts each refusal by reason, and a later
valid version still loads; `vmc run` refuses a FIFO list at start-up in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
from skimage import data

from consumer.media.frame_hash import pdq_hash
from consumer.settings import KafkaTopics, Settings
from devstack.process import free_port
from devstack.samples import make_still_video
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    metric_value,
    pipeline_settings,
    produce,
    running_pipeline,
    settings_env,
    upload_event,
    wait_for_records,
    wait_metric,
)

LIST = "known-cases"


def _copy_of_the_listed_photo(folder: Path) -> tuple[str, Path]:
    """The astronaut photo's PDQ, and a video of it cropped 1% and re-encoded."""
    photo = data.astronaut()
    cropped = np.ascontiguousarray(photo[5:-5, 5:-5])
    frame = av.VideoFrame.from_ndarray(cropped, format="rgb24")
    small = frame.reformat(640, 360, "rgb24", interpolation="AREA").to_ndarray()
    return pdq_hash(photo).pdq, make_still_video(folder / "copy.mp4", small)


def _others(count: int) -> list[str]:
    rng = np.random.default_rng(24)
    return [bytes(row).hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)]



def _replace(path: Path, text: str | None) -> None:
    """A new version (a FIFO for None) renamed over the old one: the reload thread sees the
    whole damaged version, never a moment of the writing."""
    fresh = path.with_suffix(".new")
    if text is None:
        os.mkfifo(fresh)
    else:
        fresh.write_text(text)
    os.replace(fresh, path)


def test_lists_emptied_truncated_half_written_or_a_fifo_mid_run_keep_blocking(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    listed, copy = _copy_of_the_listed_photo(tmp_path)
    lines = [f"{h},other-{i}\n" for i, h in enumerate(_others(99))] + [f"{listed},case-17\n"]
    hash_list = tmp_path / "known.csv"
    hash_list.write_text("hash,label\n" + "".join(lines))
    port = free_port()
    settings = pipeline_settings(
        stack, topics, group=unique, metrics={"host": "127.0.0.1", "port": port},
        signals={"known_content": {
            "lists": [{"name": LIST, "path": str(hash_list), "action": "block"}],
            "reload_s": 0.2}})
    errors = f'consumer_hash_list_errors_total{{list="{LIST}",reason="%s"}}'
    stale = f'consumer_hash_list_stale{{list="{LIST}"}}'
    size = f'consumer_hash_list_hashes{{list="{LIST}"}}'
    steps = [
        ("emptied", "", "empty"),
        ("truncated to a fifth", "".join(lines[:20]), "shrunk"),
        ("caught mid-write", "".join(lines)[:-30], "invalid"),
        ("swapped for a FIFO", None, "not_regular_file"),
    ]
    verdicts: list[dict[str, object]] = []
    with running_pipeline(settings, observe=True):
        wait_metric(port, size, 100)
        for n, (what, damaged, reason) in enumerate(steps):
            _replace(hash_list, damaged)
            wait_metric(port, errors % reason, 1)
            wait_metric(port, stale, 1)
            assert metric_value(port, size) == 100, f"{what}: the served list changed"
            produce(settings, [(f"copy-{n}", upload_event(f"copy-{n}", copy.as_uri()))])
            got = wait_for_records(settings, topics.verdicts, n + 1, timeout_s=120)
            verdicts = [json.loads(m.value()) for m in got]
            mine = [v for v in verdicts if v["video_id"] == f"copy-{n}"]
            assert [v["verdict"] for v in mine] == ["block"], f"{what}: {mine}"
        _replace(hash_list, "".join(lines) + f"{_others(100)[-1]},new-case\n")
        wait_metric(port, size, 101)
        wait_metric(port, stale, 0)
        for reason in ("empty", "shrunk", "invalid", "not_regular_file"):
            assert metric_value(port, errors % reason) == 1, f"{reason} counted once"
    reasons = [r for v in verdicts for r in v["reasons"]  # type: ignore[attr-defined]
               if r["category"] == "known_content_match"]
    assert {r["detail"] for r in reasons} == {"case-17"} and len(reasons) == len(steps)


def test_vmc_run_refuses_a_fifo_hash_list_in_one_line(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    fifo = tmp_path / "list.fifo"
    os.mkfifo(fifo)
    settings: Settings = pipeline_settings(
        stack, topics, group=unique, metrics={"host": "127.0.0.1", "port": free_port()},
        signals={"known_content": {
            "lists": [{"name": LIST, "path": str(fifo), "action": "block"}]}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env.update(settings_env(settings))
    env["VMC_LOG__FORMAT"] = "text"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "consumer", "run"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [f"vmc: signals.known_content.lists[{LIST}]: {fifo} is "
                                        "not a regular file"], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert elapsed < 60, f"took {elapsed:.1f} s: it waited on the FIFO"
