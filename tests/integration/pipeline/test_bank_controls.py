"""Bank controls end to end, through the real broker, tritonserver and Prometheus: a shadow
bank changes nothing but tags and metrics; an allow entry suppresses a block match of the same
frames; an entry matching more distinct videos than the flood limit is demoted from block to
review, and `VmcKnownContentFlood` fires in a Prometheus that loads the shipped rules file.

The banks are plain `hash,label` lists made from the sample clips' own frame hashes."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from consumer.media import ResizeSpec, extract_keyframes
from consumer.settings import KafkaTopics, SourceSettings
from devstack.process import free_port, stop_process, wait_until
from devstack.prometheus import PrometheusServer
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
)
from tests.unit.media.configs import decode_config

RULES = Path(__file__).resolve().parents[3] / "k8s/monitoring/alerts/vmc-consumer.rules.yml"
KNOWN = "known_content_match"


class RulesPrometheus(PrometheusServer):
    """The test's own Prometheus: scrapes the consumer and evaluates the shipped alert rules
    (the stack's Prometheus loads none)."""

    def _write_config(self) -> Path:
        path = super()._write_config()
        shutil.copy(RULES, self.home / RULES.name)
        path.write_text(path.read_text() + f"rule_files:\n  - {self.home / RULES.name}\n")
        return path


def _hashes(video: Path) -> list[str]:
    frames = extract_keyframes(str(video), [ResizeSpec(64, "stretch")],
                               decode_config(max_keyframes=2, frame_hashes=True),
                               SourceSettings(allowed_schemes=["file"]))
    return [h.pdq for h in frames.hashes]


def _distance(a: str, b: str) -> int:
    return int(np.unpackbits(np.frombuffer(bytes.fromhex(a), np.uint8)
                             ^ np.frombuffer(bytes.fromhex(b), np.uint8)).sum())


def _bank(path: Path, rows: list[tuple[str, str]]) -> str:
    path.write_text("hash,label\n" + "".join(f"{h},{label}\n" for h, label in rows))
    return str(path)


def _firing(prometheus: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/alerts", timeout=10) as resp:
        alerts = json.load(resp)["data"]["alerts"]
    return [a for a in alerts if a["labels"].get("alertname") == "VmcKnownContentFlood"
            and a["state"] == "firing"]


def test_shadow_allow_and_flood_quarantine_with_its_alert(
    stack: RunningStack, topics: KafkaTopics, sample_videos: list[Path], unique: str,
    tmp_path: Path,
) -> None:
    shadowed, blocked, allowed = sample_videos  # three clips of different content
    hashes = {clip: _hashes(clip) for clip in sample_videos}
    for clip, own in hashes.items():  # precondition: no clip's frame is near another clip's
        assert own
        assert all(_distance(h, o) > 31 for other in sample_videos if other != clip
                   for h in own for o in hashes[other])
    banks = [
        {"name": "trial", "action": "shadow", "min_quality": 0, "path": _bank(
            tmp_path / "trial.csv", [(h, "trial-a") for h in hashes[shadowed]])},
        {"name": "cases", "action": "block", "min_quality": 0, "path": _bank(
            tmp_path / "cases.csv", [(h, "case-b") for h in hashes[blocked]]
            + [(h, "case-c") for h in hashes[allowed]])},
        {"name": "known-fp", "action": "allow", "min_quality": 0, "path": _bank(
            tmp_path / "fp.csv", [(h, "fp-c") for h in hashes[allowed]])},
        {"name": "off", "action": "block", "enabled": False,
         "path": str(tmp_path / "never-written.csv")},
    ]
    settings = pipeline_settings(
        stack, topics, group=unique, metrics={"host": "127.0.0.1",
                                              "port": stack.consumer_metrics_port},
        signals={"known_content": {"lists": banks, "flood_max_videos": 1}})
    prometheus = RulesPrometheus(tmp_path / "prometheus", free_port(),
                                 {"consumer": [f"127.0.0.1:{stack.consumer_metrics_port}"]})
    record = prometheus.launch(ttl_s=900, die_with_parent=True)
    try:
        wait_until("prometheus", prometheus.ready, timeout_s=60, record=record)
        produce(settings, [("a1", upload_event("a1", shadowed.as_uri())),
                           ("c1", upload_event("c1", allowed.as_uri())),
                           ("b", upload_event("b1", blocked.as_uri())),
                           ("b", upload_event("b2", blocked.as_uri()))])
        with running_pipeline(settings, observe=True):
            verdicts = read_topic(settings, topics.verdicts, expect=4, timeout_s=180)
            tags = read_topic(settings, topics.tags, expect=4, timeout_s=60)
            deadline, firing = time.monotonic() + 90, []
            while not firing and time.monotonic() < deadline:
                firing = _firing(prometheus.url)
                time.sleep(2)
            scrape = urllib.request.urlopen(
                f"http://127.0.0.1:{stack.consumer_metrics_port}/metrics", timeout=5
            ).read().decode()
    finally:
        stop_process(record)
    verdict = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}
    tag = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in tags}

    def known(video: str) -> list[dict[str, Any]]:
        return [r for r in verdict[video]["reasons"] if r["category"] == KNOWN]

    # Shadow: no reason, the verdict is what the models say; the match is in the tags.
    assert known("a1") == [] and verdict["a1"]["verdict"] != "block"
    assert {(t["bank"], t["action"], t["label"]) for t in tag["a1"]["known_content"]} == {
        ("trial", "shadow", "trial-a")}
    # Allow: c1's frames are in the block bank and in the allow bank; the allow bank wins.
    assert known("c1") == [] and verdict["c1"]["verdict"] != "block"
    c_tags = {(t["bank"], t["action"], t.get("suppressed_by")) for t in tag["c1"]["known_content"]}
    assert c_tags == {("known-fp", "allow", None), ("cases", "suppressed", "known-fp")}
    # Flood: the first of b1/b2 judged is blocked with its entry named; the second distinct
    # video matching the same entries is demoted to review.
    (first,) = [v for v in ("b1", "b2") if verdict[v]["verdict"] == "block"]
    (second,) = [v for v in ("b1", "b2") if verdict[v]["verdict"] == "review"]
    assert known(first) and all(
        r["action"] == "block" and r["hash_list"] == "cases" and r["detail"] == "case-b"
        and r["entry"] in hashes[blocked] and r["query_share"] > 0
        and r["compared_share"] == 1.0 and r["entry_at_s"] == 0.0 and r["distance"] <= 31
        for r in known(first))
    assert known(second) and all(r["action"] == "review" and r["demoted"] == "flood_quarantine"
                                 for r in known(second))
    assert {t["demoted"] for t in tag[second]["known_content"]} == {"flood_quarantine"}
    # Metrics and the alert.
    lines = set(scrape.splitlines())
    assert 'consumer_known_content_matches_total{action="shadow",bank="trial"} 1.0' in lines
    assert ('consumer_known_content_suppressed_total{allow_bank="known-fp",bank="cases"} 1.0'
            in lines)
    assert 'consumer_known_content_demotions_total{bank="cases"} 1.0' in lines
    assert 'consumer_known_content_bank_enabled{action="block",bank="off"} 0.0' in lines
    assert 'consumer_known_content_quarantined_entries{bank="trial"} 0.0' in lines
    assert any(line.startswith('consumer_known_content_quarantined_entries{bank="cases"} ')
               and float(line.split()[-1]) >= 1 for line in lines)
    assert [a["labels"]["bank"] for a in firing] == ["cases"], "VmcKnownContentFlood fired"
