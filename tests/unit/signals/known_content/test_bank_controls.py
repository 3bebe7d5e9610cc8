"""The known-content signal's judge and bank controls: reasons and tags name the bank, entry,
label, distance, shares and times; shadow banks only count and tag; allow banks suppress;
flood quarantine demotes block to review; disabled banks are not loaded; all in /metrics."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from consumer.media import Keyframes, VideoProbe
from consumer.media.frame_hash import FrameHash
from consumer.observability.metrics import ConsumerMetrics
from consumer.policy.decide import ALLOW, BLOCK, REVIEW, UNPROCESSABLE, Decision, Reason, escalate
from consumer.signals.base import Evidence, Opening
from consumer.signals.known_content import KnownContent, known_content_reasons
from consumer.signals.known_content.bank import IndexedBank
from consumer.signals.known_content.matching import match_banks
from consumer.signals.known_content.settings import KnownContentSettings
from tests.unit.signals.known_content.banks import Video, flip, plain, random_hashes, videos

H = random_hashes(20, seed=7)


def keyframes(hexes: list[str]) -> Keyframes:
    probe = VideoProbe(duration_s=float(len(hexes)), width=64, height=64, fps=1.0,
                       codec="h264", container="mp4", rotation=0, has_audio=False,
                       bit_rate=None, size_bytes=1000)
    return Keyframes(probe, [float(i) for i in range(len(hexes))], {},
                     hashes=[FrameHash(h, 100) for h in hexes])


class Served:
    def __init__(self, *banks: IndexedBank) -> None:
        self.lists = banks


def signal(*banks: IndexedBank, **section: Any) -> tuple[KnownContent, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry, "uploads")
    rules = [b.rule.model_dump() for b in banks]
    known = KnownContent(None, KnownContentSettings(lists=[], **section))  # type: ignore[arg-type]
    known.open(Opening(contextlib.ExitStack(), metrics, one_off=True))
    metrics.known_content_banks({r["name"]: (r["action"], r["enabled"]) for r in rules},
                                known.flood.quarantined)  # type: ignore[union-attr]
    known.store = Served(*banks)  # type: ignore[assignment]
    return known, registry


def judge(known: KnownContent, hexes: list[str], video_id: str = "v") -> Any:
    frames = keyframes(hexes)
    return known.judge(Evidence(frames, {}, {}, {}, video_id=video_id), known.match(frames))


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_video_match_names_bank_entry_label_distance_shares_and_times() -> None:
    bank = videos("vids", [Video("upload-123", [(h, 100, 2.0 * i) for i, h in
                                                enumerate(H[:4])], label="case-9")],
                  action="block")
    known, registry = signal(bank)
    finding = judge(known, [H[5], H[1], H[2], H[3]])
    (reason,) = finding.reasons
    assert reason == Reason("known_content_match", None, None, 1.0, BLOCK, "case-9", "vids", 0,
                            entry="upload-123", entry_at_s=2.0, query_share=0.75,
                            compared_share=0.75)
    (tag,) = finding.tags["known_content"]
    assert tag == {"bank": "vids", "action": BLOCK, "bank_action": BLOCK,
                   "entry": "upload-123", "kind": "video", "label": "case-9", "distance": 0,
                   "variant": "box", "at_s": 1.0, "entry_at_s": 2.0, "query_share": 0.75,
                   "compared_share": 0.75, "covered_s": 3.0}
    assert [f["pdq"] for f in finding.tags["frames"]] == [H[5], H[1], H[2], H[3]]
    assert finding.matched == ["vids"]
    assert value(registry, "consumer_known_content_matches_total", bank="vids",
                 action=BLOCK) == 1


def test_a_shadow_bank_is_counted_and_tagged_but_gives_no_reason() -> None:
    known, registry = signal(plain("trial", [H[0]], ["new list"], action="shadow"))
    finding = judge(known, [H[0], H[9]])
    assert finding.reasons == [] and finding.matched == []
    assert [(t["bank"], t["action"], t["label"]) for t in finding.tags["known_content"]] == [
        ("trial", "shadow", "new list")]
    assert value(registry, "consumer_known_content_matches_total", bank="trial",
                 action="shadow") == 1


def test_an_allow_entry_suppresses_a_block_match_of_the_same_frames() -> None:
    known, registry = signal(plain("cases", [H[0]], action="block"),
                             plain("known-fp", [H[0]], ["logo"], action="allow"))
    finding = judge(known, [H[0], H[9]])
    assert finding.reasons == []
    tags = {t["bank"]: t for t in finding.tags["known_content"]}
    assert tags["cases"]["action"] == "suppressed" and tags["cases"]["suppressed_by"] == \
        "known-fp"
    assert tags["known-fp"]["action"] == ALLOW
    assert value(registry, "consumer_known_content_suppressed_total", bank="cases",
                 allow_bank="known-fp") == 1
    assert value(registry, "consumer_known_content_matches_total", bank="known-fp",
                 action=ALLOW) == 1
    assert value(registry, "consumer_known_content_matches_total", bank="cases",
                 action=BLOCK) == 0


def test_suppressed_matches_never_crowd_a_live_match_out_of_the_bound() -> None:
    """11 entries an allow bank clears, all closer than the one real hit: the hit still
    blocks (the per-bank bound of 10 counts live matches first)."""
    shared, hit = H[:11], H[19]
    known, _ = signal(plain("cases", [*shared, hit], action="block"),
                      plain("known-fp", shared, action="allow"))
    finding = judge(known, [*shared, flip(hit, 5)])
    assert [(r.action, r.distance) for r in finding.reasons] == [(BLOCK, 5)]


def test_an_entry_matching_too_many_videos_is_demoted_to_review() -> None:
    known, registry = signal(plain("cases", [H[0]], ["case-1"], action="block"),
                             flood_max_videos=2, flood_window_s=3600)
    assert [judge(known, [H[0]], vid).reasons[0].action for vid in ("a", "b", "a")] == [
        BLOCK, BLOCK, BLOCK]
    assert value(registry, "consumer_known_content_quarantined_entries", bank="cases") == 0
    (reason,) = judge(known, [H[0]], "c").reasons
    assert (reason.action, reason.demoted, reason.entry) == (REVIEW, "flood_quarantine", H[0])
    assert value(registry, "consumer_known_content_demotions_total", bank="cases") == 1
    assert value(registry, "consumer_known_content_quarantined_entries", bank="cases") == 1
    assert value(registry, "consumer_known_content_matches_total", bank="cases",
                 action=REVIEW) == 1


def test_a_disabled_bank_is_not_loaded_and_its_metric_says_so(tmp_path: Path) -> None:
    listed = tmp_path / "cases.csv"
    listed.write_text(f"{H[0]},case-1\n")
    registry = CollectorRegistry()
    known = KnownContent(None, KnownContentSettings(lists=[  # type: ignore[arg-type]
        {"name": "cases", "path": str(listed), "action": "block"},
        {"name": "off", "path": str(tmp_path / "missing.csv"), "enabled": False}]))
    known.open(Opening(contextlib.ExitStack(), ConsumerMetrics(registry, "uploads"),
                       one_off=True))
    assert value(registry, "consumer_known_content_bank_enabled", bank="cases",
                 action=BLOCK) == 1
    assert value(registry, "consumer_known_content_bank_enabled", bank="off",
                 action=REVIEW) == 0
    finding = judge(known, [H[0]])
    assert [(r.hash_list, r.detail, r.action) for r in finding.reasons] == [
        ("cases", "case-1", BLOCK)]
    assert value(registry, "consumer_known_content_quarantined_entries", bank="off") == 0
    only_off = KnownContent(None, KnownContentSettings(lists=[  # type: ignore[arg-type]
        {"name": "off", "path": str(tmp_path / "missing.csv"), "enabled": False}]))
    only_off.open(Opening(contextlib.ExitStack(), None, one_off=True))
    assert not only_off.active


def test_a_match_adds_its_action_and_unprocessable_stays() -> None:
    banks = [plain("cases", [H[0]], ["case-1"], action="block"),
             plain("l", [H[1]], action="review")]
    matches = match_banks(banks, [FrameHash(H[0], 100)], [2.0], 3.0)
    review = Decision(REVIEW, [Reason("nsfw", 0.6, 0.5, 1.0, REVIEW)], {"nsfw": 0.6})
    merged = escalate(review, known_content_reasons(matches))
    assert merged.verdict == BLOCK and merged.scores == {"nsfw": 0.6}
    assert merged.reasons[0].hash_list == "cases" and merged.reasons[0].at_s == 2.0
    only_review = match_banks(banks, [FrameHash(H[1], 100)], [0.0], 1.0)
    assert escalate(Decision(ALLOW), known_content_reasons(only_review)).verdict == REVIEW
    assert escalate(Decision(BLOCK), known_content_reasons(only_review)).verdict == BLOCK
    assert escalate(Decision(UNPROCESSABLE), known_content_reasons(matches)).verdict == \
        UNPROCESSABLE
    assert np.isfinite(merged.reasons[0].query_share or 0)
