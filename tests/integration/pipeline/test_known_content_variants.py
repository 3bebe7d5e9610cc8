"""A banked video's re-upload inside letterbox bars is caught, end to end: `vmc bank add`
hashes a generated clip into a folder bank (one vPDQ file, the entry id its stem), the
consumer serves that folder as a video-level bank, and the same clip re-encoded inside a 4:3
frame with black bars (the edit that defeats whole-frame PDQ) gets verdict `block` naming the
entry; an unrelated clip is allowed. Through the real broker and tritonserver.

Needs the banks work (vPDQ folders, `match: video`) beside the content box; written against
the interface in design.md and the issue (bank `match` setting, reasons naming the entry)."""

from __future__ import annotations

import json
from pathlib import Path

from consumer.cli import main
from consumer.settings import KafkaTopics
from devstack.variants import HEIGHT, VARIANTS, WIDTH, encode, source_clip, unrelated_clip
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
)

ENTRY = "case-2026-0042"


def test_a_banked_video_reuploaded_with_letterbox_bars_is_blocked_naming_the_entry(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    frames = source_clip(0)
    original = encode(tmp_path / f"{ENTRY}.mp4", frames, WIDTH, HEIGHT)
    bank = tmp_path / "confirmed"
    assert main(["bank", "add", str(original), "--bank", str(bank)]) == 0
    banked = bank / f"{ENTRY}.txt"
    lines = banked.read_text().splitlines()
    assert len(lines) == 6 and all(len(line.split(",")) == 4 for line in lines)

    edit, width, height, crf = VARIANTS["letterbox_4x3"]
    boxed = encode(tmp_path / "reupload.mp4", edit(frames), width, height, crf)
    other = encode(tmp_path / "other.mp4", unrelated_clip(0), WIDTH, HEIGHT)
    settings = pipeline_settings(
        stack, topics, group=unique, sampling={"max_keyframes": 8},
        signals={"known_content": {"lists": [
            {"name": "confirmed", "path": str(bank), "action": "block", "match": "video"}]}})
    produce(settings, [("reupload", upload_event("reupload", boxed.as_uri())),
                       ("other", upload_event("other", other.as_uri()))])
    with running_pipeline(settings):
        verdicts = read_topic(settings, topics.verdicts, expect=2, timeout_s=180)
        tags = read_topic(settings, topics.tags, expect=2, timeout_s=60)
    by_video = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in verdicts}

    reupload = by_video["reupload"]
    assert reupload["verdict"] == "block", reupload
    matched = [r for r in reupload["reasons"] if r["category"] == "known_content_match"]
    assert matched and all(r["hash_list"] == "confirmed" for r in matched)
    assert any(ENTRY in json.dumps(r) for r in matched), matched  # the reason names the entry
    assert all(0 <= r["distance"] <= 31 for r in matched)

    assert by_video["other"]["verdict"] == "allow"
    assert not [r for r in by_video["other"]["reasons"]
                if r["category"] == "known_content_match"]

    # What `vmc bank add --from-tags` needs is in the tags record: the box hashes per frame.
    record = {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in tags}["reupload"]
    assert len(record["frames"]) == reupload["keyframes_analyzed"] >= 5
    assert all(len(f["pdq"]) == 64 and 0 <= f["quality"] <= 100 and f["at_s"] >= 0
               for f in record["frames"])
    tags_file = tmp_path / "tags.json"
    tags_file.write_text(json.dumps(record))
    assert main(["bank", "add", "--from-tags", str(tags_file), "--bank", str(tmp_path / "b2"),
                 "--id", "from-tags"]) == 0
    assert len((tmp_path / "b2" / "from-tags.txt").read_text().splitlines()) == len(
        record["frames"])
