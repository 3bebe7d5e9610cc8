"""Reviewers' decisions teach the served banks, end to end through the real broker and
tritonserver, with the consumer running throughout and reloading its banks by itself:

- `violating` on an allowed video: `vmc decisions` banks the hashes of the frames the
  pipeline analysed (from its signals record) in the confirmed bank, which the consumer
  serves as a `block` bank; the same video re-uploaded inside letterbox bars is then blocked,
  the reason naming the entry (the video's id).
- `not_violating` on a video blocked by a bank entry: the entry is copied into the allow bank;
  the same video uploaded again is then not blocked, its match tagged `suppressed`.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consumer.cli import main
from consumer.review.decisions import decision_id
from consumer.settings import KafkaTopics, Settings
from devstack.process import free_port
from devstack.variants import HEIGHT, VARIANTS, WIDTH, encode, source_clip
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
)
from tests.integration.pipeline.review_helpers import (
    after,
    decision,
    decisions_loop,
    loop_topics,
    send,
    wait_for,
)

ENTRY = "case-2026-0077"  # the entry of the `known` bank, from the listed video


def _by_video(messages: list[Any]) -> dict[str, dict[str, Any]]:
    return {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in messages}


def _hashes_served(port: int, bank: str) -> float:
    """consumer_hash_list_hashes of one bank, as the consumer's /metrics shows it now."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    found = re.search(rf'^consumer_hash_list_hashes\{{list="{re.escape(bank)}"\}} (\S+)$',
                      text, re.MULTILINE)
    return float(found.group(1)) if found else -1.0


def _settings(stack: RunningStack, names: KafkaTopics, unique: str, tmp_path: Path,
              port: int) -> Settings:
    def bank(name: str, action: str, path: Path) -> dict[str, Any]:
        path.mkdir(exist_ok=True)
        # as README's worked example serves it: `match` auto (video entries: video matching)
        return {"name": name, "path": str(path), "action": action, "allow_empty": True}

    return pipeline_settings(
        stack, names, f"{unique}-g", sampling={"max_keyframes": 8},
        metrics={"host": "127.0.0.1", "port": port},
        signals={"known_content": {"reload_s": 0.5, "lists": [
            bank("confirmed", "block", tmp_path / "confirmed"),
            bank("known", "block", tmp_path / "known"),
            bank("cleared", "allow", tmp_path / "cleared")]}},
        review={"confirmed_bank": str(tmp_path / "confirmed"),
                "allow_bank": str(tmp_path / "cleared"),
                "state_path": str(tmp_path / "state.sqlite"),
                "decisions_group_id": f"{unique}-decisions", "audit_allow_rate": 0.0,
                "audit_block_rate": 0.0})


def test_decisions_confirm_a_video_its_letterboxed_reupload_is_blocked_and_a_cleared_entry_is_suppressed(  # noqa: E501
    stack: RunningStack, topics: KafkaTopics, unique: str, stack_settings: Settings,
    tmp_path: Path,
) -> None:
    names = loop_topics(topics, unique, stack_settings)
    port = free_port()
    settings = _settings(stack, names, unique, tmp_path, port)
    first = source_clip(0)
    original = encode(tmp_path / "original.mp4", first, WIDTH, HEIGHT)
    edit, width, height, crf = VARIANTS["letterbox_4x3"]
    boxed = encode(tmp_path / "boxed.mp4", edit(first), width, height, crf)
    listed = encode(tmp_path / f"{ENTRY}.mp4", source_clip(1), WIDTH, HEIGHT)
    assert main(["bank", "add", str(listed), "--bank", str(tmp_path / "known")]) == 0

    started = datetime.now(UTC)
    produce(settings, [("orig", upload_event("orig", original.as_uri())),
                       ("listed", upload_event("listed", listed.as_uri()))])
    with running_pipeline(settings, observe=True):
        before = _by_video(read_topic(settings, names.verdicts, expect=2, timeout_s=180))
        assert before["orig"]["verdict"] == "allow", before["orig"]
        assert before["listed"]["verdict"] == "block", before["listed"]
        assert [(r["hash_list"], r["entry"]) for r in before["listed"]["reasons"]
                if r["category"] == "known_content_match"] == [("known", ENTRY)]
        assert _hashes_served(port, "confirmed") == 0 == _hashes_served(port, "cleared")

        send(settings, names.decisions, [
            decision(before["orig"], "violating", after(started, 3)),
            decision(before["listed"], "not_violating", after(started, 4),
                     categories=("known_content_match",))])
        with decisions_loop(settings) as (_, registry):
            wait_for("both decisions applied", lambda: registry.get_sample_value(
                "consumer_review_decisions_total",
                {"decision": "not_violating", "outcome": "applied"}) == 1 == registry
                .get_sample_value("consumer_review_decisions_total",
                                  {"decision": "violating", "outcome": "applied"}), 90)
        assert sorted(p.name for p in (tmp_path / "confirmed").iterdir()) == ["orig.txt"]
        assert sorted(p.name for p in (tmp_path / "cleared").iterdir()) == [
            f"known.{ENTRY}.txt"]
        # The consumer reloads both banks by itself; upload once it serves them.
        wait_for("the consumer serving the confirmed and allow entries",
                 lambda: _hashes_served(port, "confirmed") > 0
                 and _hashes_served(port, "cleared") > 0, 60)
        produce(settings, [("boxed", upload_event("boxed", boxed.as_uri())),
                           ("again", upload_event("again", listed.as_uri()))])
        verdicts = _by_video(read_topic(settings, names.verdicts, expect=4, timeout_s=180))
        tags = _by_video(read_topic(settings, names.tags, expect=4, timeout_s=60))

    boxed_verdict = verdicts["boxed"]
    assert boxed_verdict["verdict"] == "block", boxed_verdict
    matched = [r for r in boxed_verdict["reasons"] if r["category"] == "known_content_match"]
    assert matched and {(r["hash_list"], r["entry"]) for r in matched} == {("confirmed", "orig")}
    confirming = decision_id(before["orig"]["video_id"], before["orig"]["verdict_id"], "r1",
                             after(started, 3),
                             "violating")
    assert {r["detail"] for r in matched} == {confirming}, "the entry's label: the decision"

    again = verdicts["again"]
    assert again["verdict"] != "block", again
    assert not [r for r in again["reasons"] if r["category"] == "known_content_match"]
    known = {(t["bank"], t["action"], t.get("suppressed_by"))
             for t in tags["again"]["known_content"]}
    assert ("known", "suppressed", "cleared") in known, known
