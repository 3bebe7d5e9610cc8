"""`vmc dev up && vmc dev status && vmc dev down` as a user runs them: nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devstack.process import ProcessRecord


def _vmc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False)


def test_dev_up_status_smoke_demo_down_leaves_no_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env["VMC_DEV__STATE_DIR"] = str(tmp_path / "state")
    up = _vmc("dev", "up", "--ttl", "600", env=env)
    try:
        assert up.returncode == 0, up.stderr
        exported = dict(line.split("=", 1) for line in up.stdout.split())
        assert exported["VMC_KAFKA__BOOTSTRAP_SERVERS"].startswith("127.0.0.1:")

        status = _vmc("dev", "status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("healthy") == 3

        eval_lines = _vmc("dev", "status", "--env", env=env).stdout.splitlines()
        assert f"export VMC_TRITON__URL={exported['VMC_TRITON__URL']}" in eval_lines

        # `vmc` finds the stack by itself: no address in its environment.
        smoke = _vmc("dev", "smoke", env=env)
        assert smoke.returncode == 0, smoke.stderr
        assert json.loads(smoke.stdout)["triton"]["output"][0][0] >= 0

        # The README's demo on a stack that is already up: it must leave it up.
        demo = _vmc("--log-level", "WARNING", "dev", "demo", env=env)
        assert demo.returncode == 0, demo.stderr[-3000:]
        shown = {r["video_id"]: r for r in map(json.loads, demo.stdout.splitlines())}
        assert shown["broken"]["verdict"] == "unprocessable"
        assert shown["noise"]["verdict"] == "allow"
        assert ("sfw" in {label for label, _, _ in shown["astronaut"]["labels"]})
        assert shown["black"]["technical"]["black_keyframes_at_s"]
        copy = shown["astronaut-copy"]  # cropped and resized: still on the known-content list
        assert copy["verdict"] == "review"
        assert [r["hash_list"] for r in copy["reasons"]
                if r["category"] == "known_content_match"] == ["demo-known"]
        assert shown["noise"]["reasons"] == []
        caption = shown["caption"]  # on-screen text, read on Triton, matched by a text rule
        assert caption["text"] == ["Visit www.example.com today"]
        assert [(r["category"], r["rule"]) for r in caption["reasons"]] == [
            ("text_rule", "demo-urls")]
        assert _vmc("dev", "status", env=env).returncode == 0, "demo left the stack up"

        records = [ProcessRecord(**r) for r in
                   json.loads((tmp_path / "state" / "processes.json").read_text())]
        assert {r.name for r in records} == {"kafka", "triton", "prometheus"}
    finally:
        down = _vmc("dev", "down", env=env)
    assert down.returncode == 0
    assert "kafka" in down.stdout
    assert not any(r.alive() for r in records)
    assert _vmc("dev", "status", env=env).returncode == 1
