"""`vmc dev up && vmc dev status && vmc dev down` as a user runs them: nothing left behind."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from confluent_kafka.admin import AdminClient

from consumer.logs import kafka_logged
from devstack.process import ProcessRecord, wait_until

RAW_LIBRDKAFKA = re.compile(r"^%\d\|", re.M)  # a line librdkafka printed past our logging


def _raw_librdkafka_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines()
            if RAW_LIBRDKAFKA.match(line)]


def _vmc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False)


def _answers(url: str) -> bool:
    """An HTTP answer of any status (s3proxy refuses an unsigned request with 403)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True


def _rows(status: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in status.splitlines() if line.strip()}


def _check_secured_listener(state: Path, env: dict[str, str], shown: str) -> None:
    """Shown with its CA and password file, never the password; `eval` of `status --env
    --secured` gives settings that log in."""
    password_file = state / "kafka" / "sasl" / "vmc.password"
    password = password_file.read_text().strip()
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    assert "SCRAM-SHA-512" in " ".join(_rows(shown)["kafka-sasl"]), shown
    assert str(password_file) in shown and password not in shown
    printed = _vmc("dev", "status", "--env", "--secured", env=env)
    assert printed.returncode == 0 and password not in printed.stdout, printed.stderr
    evaluated = subprocess.run(
        ["bash", "-c", f'eval "$({shlex.quote(sys.executable)} -m consumer dev status --env '
         '--secured)" && env'], env=env, text=True, capture_output=True, timeout=60, check=True)
    client = dict(line.split("=", 1) for line in evaluated.stdout.splitlines()
                  if line.startswith("VMC_KAFKA__"))
    assert client["VMC_KAFKA__CLIENT__SASL_PASSWORD"] == password
    admin = AdminClient(kafka_logged({
        "bootstrap.servers": client["VMC_KAFKA__BOOTSTRAP_SERVERS"], **{
            key.removeprefix("VMC_KAFKA__CLIENT__").lower().replace("_", "."): value
            for key, value in client.items() if key.startswith("VMC_KAFKA__CLIENT__")}}))
    assert admin.list_topics(timeout=30).brokers


def _check_object_store_comes_back(state: Path, env: dict[str, str], address: str) -> None:
    """A fake-gcs-server that died comes back on its address; the other parts are left be."""
    records = [ProcessRecord(**r) for r in json.loads((state / "processes.json").read_text())]
    gcs = next(r for r in records if r.name == "fake-gcs")
    (server,) = Path(f"/proc/{gcs.pid}/task/{gcs.pid}/children").read_text().split()
    os.kill(int(server), signal.SIGKILL)  # the server, not its TTL wrapper
    wait_until("fake-gcs gone", lambda: not gcs.alive(), timeout_s=30)
    again = _vmc("dev", "up", "--ttl", "600", "--secured", "--object-stores", env=env)
    assert again.returncode == 0, again.stderr
    assert "fake-gcs restarted on its ports" in again.stderr, again.stderr
    rows = _rows(_vmc("dev", "status", env=env).stdout)
    assert rows["fake-gcs"][1:3] == [address, "healthy"]
    assert _answers(f"{address}/storage/v1/b")


def _check_demo_outputs(stdout: str) -> None:
    """Each sample video's verdict and tags, as the demo prints them."""
    shown = {r["video_id"]: r for r in map(json.loads, stdout.splitlines())}
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
    music = shown["music"]  # 20 s of the catalogue's track, from its 10th second, at 2 s
    assert [track for track, _, _ in music["music"]] == ["demo-track-1"]
    (_, start_s, end_s), = music["music"]
    assert abs(start_s - 2) <= 1 and abs(end_s - 22) <= 1
    assert music["technical"]["audio"] == "ok" and music["verdict"] == "allow"
    assert shown["noise"]["technical"]["audio"] == "none"
    # Speech (issue 28): an espeak-ng sentence is `spoken` with its segment; the catalogue
    # track is `music`; a video without audio is `silent`.
    speech = shown["speech"]["speech"]
    assert speech["kind"] == "spoken" and speech["segments"]
    assert abs(speech["segments"][0]["start_s"] - 1.5) <= 0.3
    assert music["speech"]["kind"] == "music" and shown["noise"]["speech"]["kind"] == "silent"
    cat = shown["cat"]  # what is in the picture (visual_tagger): top classes, coarse words
    assert cat["verdict"] == "allow"
    assert cat["visual"][0][0] in {"tabby", "tiger cat", "Egyptian cat"}, cat["visual"]
    assert "animal" in cat["visual_words"]
    assert not {"animal"} & set(shown["caption"]["visual_words"])


def test_dev_up_status_smoke_demo_down_leaves_no_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env["VMC_DEV__STATE_DIR"] = str(tmp_path / "state")
    up = _vmc("dev", "up", "--ttl", "600", "--secured", "--object-stores", env=env)
    try:
        assert up.returncode == 0, up.stderr
        assert not _raw_librdkafka_lines(up), _raw_librdkafka_lines(up)
        exported = dict(line.split("=", 1) for line in up.stdout.split())
        assert exported["VMC_KAFKA__BOOTSTRAP_SERVERS"].startswith("127.0.0.1:")

        status = _vmc("dev", "status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("healthy") == 5
        rows = _rows(status.stdout)
        assert _answers(rows["s3proxy"][1]) and _answers(f"{rows['fake-gcs'][1]}/storage/v1/b")
        _check_secured_listener(tmp_path / "state", env, status.stdout + up.stderr)
        _check_object_store_comes_back(tmp_path / "state", env, rows["fake-gcs"][1])

        eval_lines = _vmc("dev", "status", "--env", env=env).stdout.splitlines()
        assert f"export VMC_TRITON__URL={exported['VMC_TRITON__URL']}" in eval_lines

        # The README's demo on a stack that is already up: it must leave it up.
        demo = _vmc("--log-level", "WARNING", "dev", "demo", env=env)
        assert demo.returncode == 0, demo.stderr[-3000:]
        # Every Kafka client of the demo (its producer, its readers, the pipeline's) logs
        # through logging: no raw `%4|...|GETPID|...` or `%6|...|FAIL|...` line. The demo's
        # producer is the first on this broker, as with scripts/demo.sh on a fresh machine:
        # it is the one that meets "Coordinator load in progress".
        assert not _raw_librdkafka_lines(demo), _raw_librdkafka_lines(demo)
        _check_demo_outputs(demo.stdout)
        assert _vmc("dev", "status", env=env).returncode == 0, "demo left the stack up"

        # `vmc` finds the stack by itself: no address in its environment.
        smoke = _vmc("dev", "smoke", env=env)
        assert smoke.returncode == 0, smoke.stderr
        assert not _raw_librdkafka_lines(smoke), _raw_librdkafka_lines(smoke)
        assert json.loads(smoke.stdout)["triton"]["output"][0][0] >= 0

        records = [ProcessRecord(**r) for r in
                   json.loads((tmp_path / "state" / "processes.json").read_text())]
        assert {r.name for r in records} == {"kafka", "triton", "prometheus", "s3proxy",
                                             "fake-gcs"}
    finally:
        down = _vmc("dev", "down", env=env)
    assert down.returncode == 0
    assert "kafka" in down.stdout
    assert not any(r.alive() for r in records)
    assert _vmc("dev", "status", env=env).returncode == 1
