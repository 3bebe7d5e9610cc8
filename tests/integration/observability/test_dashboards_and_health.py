"""Against the real Prometheus: every dashboard query has data, /metrics passes promtool, and
/readyz follows Triton while /healthz does not."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from consumer.media import ResizeSpec, extract_keyframes
from consumer.settings import KafkaTopics, SourceSettings
from consumer.signals.music.catalogue import build_catalogue, save_catalogue
from devstack.process import free_port, wait_until
from devstack.samples import add_soundtrack, make_video, synth_track, write_audio
from tests.integration.conftest import PrivateTriton, RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    running_pipeline,
    upload_event,
    uploads,
    wait_for_records,
)
from tests.unit.media.configs import decode_config

DASHBOARD = Path(__file__).resolve().parents[3] / "k8s/monitoring/dashboards/vmc-consumer.json"
TEMPLATE_VALUES = {"$__rate_interval": "1m", "$model": ".*"}


def _dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    out = []
    for panel in panels:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in TEMPLATE_VALUES.items():
                expr = expr.replace(name, value)
            out.append((f"{panel['title']} [{target['refId']}]", expr))
    return out


def _series(prometheus: str, expr: str) -> list[dict]:  # type: ignore[type-arg]
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?{query}", timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _get(url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_every_dashboard_query_returns_series_and_metrics_pass_promtool(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    if not stack.addresses.prometheus_url:
        pytest.fail("needs the stack's Prometheus (VMC_PROMETHEUS_URL for an external stack)")
    known = tmp_path / "known.txt"  # one sample's frames are "known": the match panel has data
    frames = extract_keyframes(str(sample_videos[0]), [ResizeSpec(64, "stretch")],
                               decode_config(max_keyframes=2, frame_hashes=True),
                               SourceSettings(allowed_schemes=["file"]))
    known.write_text("".join(f"{h.pdq}\n" for h in frames.hashes))
    # One upload plays a catalogue track: the music panel has data.
    track = synth_track(seed=21, seconds=30)
    (tmp_path / "tracks").mkdir()
    write_audio(tmp_path / "tracks" / "track-21.m4a", track)
    save_catalogue(build_catalogue(tmp_path / "tracks"), tmp_path / "music.vmccat")
    music = add_soundtrack(make_video(tmp_path / "frames.mp4", seconds=16, width=64,
                                      height=48), track[5 * 44100:21 * 44100],
                           tmp_path / "music.mp4")
    settings = pipeline_settings(stack, topics, group=unique,
                                 metrics={"host": "127.0.0.1", "port": stack.consumer_metrics_port,
                                          "statistics_interval_s": 1},
                                 pipeline={"models": ["nsfw_classifier", "ocr"]},
                                 signals={
                                     "known_content": {"lists": [{"name": "dash",
                                                                  "path": str(known),
                                                                  "min_quality": 0}]},
                                     "text": {"rules": [{"name": "urls",
                                                         "pattern": r"www\.\S+"}]},
                                     "music": {"catalogues": [{
                                         "name": "dash-music",
                                         "path": str(tmp_path / "music.vmccat")}]}})
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 2048)
    records = uploads(sample_videos, 30)
    records += [("poison", b"{not json"), ("broken", json.dumps(
        {"video_id": "broken", "uri": broken.as_uri()}).encode()),
        ("music", upload_event("music", music.as_uri()))]
    produce(settings, records)
    queries = _dashboard_queries()
    assert len(queries) >= 10
    with running_pipeline(settings, observe=True):
        wait_for_records(settings, topics.verdicts, 32, timeout_s=180)
        missing = dict(queries)
        deadline = time.monotonic() + 90
        while missing and time.monotonic() < deadline:
            for title, expr in list(missing.items()):
                if _series(stack.addresses.prometheus_url, expr):
                    del missing[title]
            time.sleep(2)
        scrape = urllib.request.urlopen(
            f"http://127.0.0.1:{stack.consumer_metrics_port}/metrics", timeout=5).read()
    assert not missing, f"panels without data: {missing}"
    title, expr = next((t, e) for t, e in queries if "Verdicts per second" in t)
    with capsys.disabled():
        print(f"\n[panel] {title}: {expr}")
        for series in _series(stack.addresses.prometheus_url, expr):
            print(f"[panel]   {series['metric']} = {series['value'][1]}")
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool (Debian package prometheus) is needed"
    checked = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == b"" and checked.stderr.strip() == b""


def test_readyz_follows_triton_while_healthz_stays_healthy(
    stack: RunningStack, topics: KafkaTopics, unique: str, private_triton: PrivateTriton,
) -> None:
    port = free_port()
    settings = pipeline_settings(stack, topics, group=unique,
                                 triton={"url": private_triton.url},
                                 metrics={"host": "127.0.0.1", "port": port})
    base = f"http://127.0.0.1:{port}"
    with running_pipeline(settings, observe=True):
        wait_until("ready", lambda: _get(f"{base}/readyz")[0] == 200, timeout_s=60)
        private_triton.stop()
        wait_until("unready", lambda: _get(f"{base}/readyz")[0] == 503, timeout_s=60)
        _, detail = _get(f"{base}/readyz")
        assert detail["triton_ready"] is False and detail["assigned_partitions"] == 6
        assert _get(f"{base}/healthz")[0] == 200, "a Triton outage must not fail liveness"
        private_triton.start()
        wait_until("ready again", lambda: _get(f"{base}/readyz")[0] == 200, timeout_s=60)
        assert _get(f"{base}/healthz")[0] == 200
