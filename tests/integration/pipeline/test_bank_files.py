"""Bank files end to end (issue 26, formats): a bank that is a folder mixing a vPDQ reference
file, a python-threatexchange vPDQ JSON file and a plain list with a bad line is served by the
running consumer through the real broker and tritonserver: a video of a banked photo is
blocked and named by its entry, `/metrics` shows the bank's hashes and its malformed lines, and
a vPDQ file dropped into the folder mid-run is loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
from skimage import data

from consumer.media.frame_hash import pdq_hash
from consumer.settings import KafkaTopics
from devstack.process import free_port
from devstack.samples import make_still_video
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    metric_value,
    pipeline_settings,
    produce,
    running_pipeline,
    upload_event,
    wait_for_records,
    wait_metric,
)

BANK = "video-bank"


def _others(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(row).hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def _vpdq(hashes: list[str]) -> str:
    return "".join(f"{i},100,{h},{i:.3f}\n" for i, h in enumerate(hashes))



def test_a_folder_bank_of_mixed_formats_blocks_a_banked_video_and_reloads_a_new_file(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    photo = data.astronaut()
    cropped = np.ascontiguousarray(photo[5:-5, 5:-5])
    small = av.VideoFrame.from_ndarray(cropped, format="rgb24").reformat(
        640, 360, "rgb24", interpolation="AREA").to_ndarray()
    copy = make_still_video(tmp_path / "copy.mp4", small)
    bank = tmp_path / "bank"
    (bank / "reference").mkdir(parents=True)
    others = _others(320, seed=26)
    # The banked video: three frames, the photo's at 1 s (as the vPDQ tool writes it).
    (bank / "reference" / "case-17.vpdq").write_text(_vpdq([others[0], pdq_hash(photo).pdq,
                                                            others[1]]))
    (bank / "clip-3.json").write_text(json.dumps([f"{h},90,{i}.0" for i, h in
                                                  enumerate(others[2:12])]))
    plain = [f"{h},other-{i}\n" for i, h in enumerate(others[12:212])]
    plain[50] = "not a hash,at all\n"  # 1 bad line of 200: skipped and counted
    (bank / "known.csv").write_text("hash,label\n" + "".join(plain))
    port = free_port()
    settings = pipeline_settings(
        stack, topics, group=unique, metrics={"host": "127.0.0.1", "port": port},
        signals={"known_content": {
            "lists": [{"name": BANK, "path": str(bank), "action": "block"}],
            "reload_s": 0.2}})
    size = f'consumer_hash_list_hashes{{list="{BANK}"}}'
    malformed = f'consumer_hash_list_malformed_lines{{list="{BANK}"}}'
    with running_pipeline(settings, observe=True):
        wait_metric(port, size, 3 + 10 + 199)
        wait_metric(port, malformed, 1)
        produce(settings, [("copy", upload_event("copy", copy.as_uri()))])
        (verdict,) = [json.loads(m.value()) for m in
                      wait_for_records(settings, topics.verdicts, 1, timeout_s=120)]
        fresh = bank / ".case-18.vpdq.partial"  # a writer's temporary file, then renamed
        fresh.write_text(_vpdq(others[212:320]))
        os.replace(fresh, bank / "case-18.vpdq")
        wait_metric(port, size, 3 + 10 + 199 + 108)
        assert metric_value(port, f'consumer_hash_list_stale{{list="{BANK}"}}') == 0
    assert verdict["video_id"] == "copy" and verdict["verdict"] == "block"
    (reason,) = [r for r in verdict["reasons"] if r["category"] == "known_content_match"]
    assert reason["hash_list"] == BANK and reason["entry"] == "case-17"
    assert 0 <= reason["distance"] <= 31
