"""Records always fit: verdicts and tags cut to the topic's limit, saying what was cut."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.events.source import SourceRef
from consumer.inference.triton_client import TextRead
from consumer.policy.decide import Decision, Reason
from consumer.policy.tagging import LabelTag
from consumer.publishing.dlq import record_bytes, usable_bytes
from consumer.publishing.fitting import MAX_ITEMS, MAX_STRING_CHARS, fit_tags, fit_verdict
from consumer.publishing.limits import MIN_RECORD_LIMIT_BYTES
from consumer.publishing.records import encode, tags_record, verdict_record
from consumer.signals.text.rules import text_tags

SRC = SourceRef("video.uploads", 3, 1234)
NOW = datetime(2026, 11, 22, 10, 0, 2, tzinfo=UTC)
HEADERS = [("vmc.run_id", b"live"), ("vmc.source", str(SRC).encode())]
BROKER_MAX = 1_048_588  # the broker's default max.message.bytes


def _verdict(decision: Decision, video_id: str = "v1", analysed: int = 16) -> dict[str, Any]:
    coverage = {"analysed_s": [float(i) for i in range(analysed)], "largest_gap_s": 4.0,
                "max_gap_s": 5.9, "complete": True, "stopped_by": None}
    return verdict_record(video_id=video_id, decision=decision, source=SRC,
                          models={"nsfw_classifier": "1"}, policy_version="p1", run_id="live",
                          keyframes_analyzed=analysed, duration_s=63.2, processed_at=NOW,
                          latency_s=2.1, coverage=coverage)


def _tags(**lists: Any) -> dict[str, Any]:
    fields = {name: [asdict(x) if is_dataclass(x) else x for x in lists.get(name, [])]
              for name in ("labels", "frames", "text", "music")}
    return tags_record(video_id="v1", verdict_id_="a" * 32, fields=fields,
                       technical={"width": 64, "black_keyframes_at_s": []}, source=SRC,
                       run_id="live", processed_at=NOW)


def _fits(value: bytes, limit: int, key: bytes = b"v1") -> bool:
    return record_bytes(key, value, HEADERS) <= usable_bytes(limit)


def test_a_record_that_fits_is_sent_as_built_with_no_marker() -> None:
    record = _verdict(Decision("allow", [], {"nsfw": 0.1}))
    fitted = fit_verdict(record, BROKER_MAX, key=b"v1", headers=HEADERS)
    assert fitted.value == encode(record) and fitted.truncated == {}
    assert "truncated" not in fitted.record


def test_a_hash_list_label_of_1_2_mb_is_cut_and_the_verdict_says_so() -> None:
    label = "x" * 1_200_000
    reason = Reason("known_content_match", None, None, 0.0, "block", label, "cases", 0)
    record = _verdict(Decision("block", [reason], {"nsfw": 0.1}))
    assert len(encode(record)) > BROKER_MAX
    fitted = fit_verdict(record, BROKER_MAX, key=b"v1", headers=HEADERS)
    assert _fits(fitted.value, BROKER_MAX)
    sent = json.loads(fitted.value)
    assert sent["verdict"] == "block" and sent["verdict_id"] == record["verdict_id"]
    assert sent["reasons"][0]["detail"] == "x" * MAX_STRING_CHARS
    assert sent["reasons"][0]["hash_list"] == "cases"
    assert sent["truncated"] == {"reasons.detail": 1} == fitted.truncated
    assert sent == fitted.record


def test_900_non_ascii_strings_on_16_frames_fit_and_the_cut_is_counted() -> None:
    """The tester's OCR case: 14,400 distinct strings, each escaped to 6 bytes a character."""
    pts = [float(i) for i in range(16)]
    texts = {f: [TextRead(f"文字{f:02d}{i:03d}", 0.9, ((0, 0),)) for i in range(900)]
             for f in range(16)}
    text = text_tags(texts, pts)
    frames = [{"at_s": t, "pdq": "a" * 64, "quality": 100} for t in pts]
    record = _tags(text=text, frames=frames)
    assert len(text) == 14_400 and len(encode(record)) > 1_048_588
    fitted = fit_tags(record, BROKER_MAX, key=b"v1", headers=HEADERS)
    assert _fits(fitted.value, BROKER_MAX)
    sent = json.loads(fitted.value)
    # Within the fixed cap nothing else needed cutting; the first strings (by time) stay.
    assert sent["text"] == text[:MAX_ITEMS["text"]]
    assert fitted.truncated == {"text": 14_400 - MAX_ITEMS["text"]} == sent["truncated"]
    assert sent["frames"] == frames


def test_under_a_low_topic_limit_the_bulkiest_list_is_cut_and_a_small_one_kept() -> None:
    text = [{"text": f"line {i} " + "é" * 100, "score": 0.9} for i in range(900)]
    frames = [{"at_s": float(i), "pdq": "b" * 64, "quality": 100} for i in range(16)]
    record = _tags(text=text, frames=frames)
    limit = 200_000
    fitted = fit_tags(record, limit, key=b"v1", headers=HEADERS)
    assert _fits(fitted.value, limit)
    sent = json.loads(fitted.value)
    assert sent["frames"] == frames, "a small list is not emptied for a big one's sake"
    assert 0 < len(sent["text"]) < 900 and sent["text"] == text[:len(sent["text"])]
    assert sent["truncated"] == {"text": 900 - len(sent["text"])}
    assert len(fitted.value) > limit * 0.9, "cut to the limit, not far below it"


def test_scores_beyond_the_top_ones_go_first_and_the_reasons_categories_stay() -> None:
    scores = {f"category_{i:05d}": round(i / 60_000, 6) for i in range(60_000)}
    scores["nudity"] = 0.0  # named by a reason, though its score is the lowest
    reason = Reason("nudity", 0.0, 0.0, 1.0, "review")
    record = _verdict(Decision("review", [reason], scores))
    limit = MIN_RECORD_LIMIT_BYTES * 4
    fitted = fit_verdict(record, limit, key=b"v1", headers=HEADERS)
    assert _fits(fitted.value, limit)
    kept = fitted.record["scores"]
    assert "nudity" in kept and "category_59999" in kept and "category_00001" not in kept
    assert fitted.truncated["scores"] == len(scores) - len(kept)
    assert fitted.record["reasons"] == record["reasons"]


def test_a_verdict_over_a_tiny_limit_keeps_its_reasons_category_and_action() -> None:
    reasons = [Reason(f"rule_{i}", 0.5, 0.4, 1.0, "review", "d" * 900, rule=f"r{i}")
               for i in range(40)]
    record = _verdict(Decision("review", reasons, {"nsfw": 0.5}), analysed=500)
    fitted = fit_verdict(record, MIN_RECORD_LIMIT_BYTES, key=b"v1", headers=HEADERS)
    assert _fits(fitted.value, MIN_RECORD_LIMIT_BYTES)
    assert [(r["category"], r["action"]) for r in fitted.record["reasons"]] == [
        (f"rule_{i}", "review") for i in range(40)]
    assert fitted.truncated["reasons.detail"] == 40
    assert fitted.record["verdict"] == "review" and fitted.record["source"] == record["source"]


def test_a_verdict_under_an_absurd_limit_keeps_the_verdict_and_its_first_reason() -> None:
    reasons = [Reason(f"category_{i}", None, None, None, "block") for i in range(40)]
    record = _verdict(Decision("block", reasons))
    fitted = fit_verdict(record, 2_800, key=b"v1", headers=HEADERS)
    assert _fits(fitted.value, 2_800)
    assert fitted.record["verdict"] == "block"
    assert fitted.record["reasons"][0] == {"category": "category_0", "action": "block"}
    assert fitted.truncated["reasons"] == 40 - len(fitted.record["reasons"])


def test_labels_and_music_are_capped_whatever_the_limit() -> None:
    labels = [LabelTag("m", f"label {i}", 0.5, 0.5, 0.0, 1.0) for i in range(1500)]
    music = [{"catalogue": "c", "track_id": "t" * 5000}] * 600
    fitted = fit_tags(_tags(labels=labels, music=music), 100_000_000)
    assert len(fitted.record["labels"]) == MAX_ITEMS["labels"]
    assert len(fitted.record["music"]) == MAX_ITEMS["music"]
    assert fitted.truncated == {"labels": 500, "music": 100, "music.track_id": 500}


# ------------------------------------------------------------------ whatever the inputs
def _huge_text(max_repeat: int) -> st.SearchStrategy[str]:
    """Strings up to megabytes, cheaply: a short piece repeated (any Unicode)."""
    return st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=6),
                     st.integers(0, max_repeat))


def _many(item: st.SearchStrategy[Any], max_repeat: int) -> st.SearchStrategy[list[Any]]:
    """Long lists, cheaply: a few distinct items, then one repeated."""
    return st.builds(lambda head, tail, n: head + [tail] * n, st.lists(item, max_size=4),
                     item, st.integers(0, max_repeat))


CATEGORY = st.from_regex(r"[a-z_]{1,30}", fullmatch=True)
REASONS = st.lists(st.builds(
    Reason, CATEGORY, st.none() | st.floats(0, 1), st.none() | st.floats(0, 1),
    st.none() | st.floats(0, 1e6), st.sampled_from(["review", "block", "unprocessable"]),
    st.none() | _huge_text(300_000), st.none() | _huge_text(50), st.none() | st.integers(0, 256),
    st.none() | _huge_text(50)), max_size=20)
SCORES = st.builds(lambda n, v: {f"c{i}": v for i in range(n)}, st.integers(0, 40_000),
                   st.floats(0, 1))
VIDEO_ID = st.text(min_size=1, max_size=256)
LIMIT = st.one_of(st.just(MIN_RECORD_LIMIT_BYTES), st.integers(MIN_RECORD_LIMIT_BYTES, 65_536),
                  st.integers(MIN_RECORD_LIMIT_BYTES, 3_000_000))


@settings(max_examples=60, deadline=None)
@given(VIDEO_ID, st.sampled_from(["allow", "review", "block", "unprocessable"]), REASONS,
       SCORES, st.integers(0, 100_000), LIMIT)
def test_any_verdict_fits_and_keeps_ids_verdict_and_every_reasons_category_and_action(
        video_id: str, verdict: str, reasons: list[Reason], scores: dict[str, float],
        analysed: int, limit: int) -> None:
    record = _verdict(Decision(verdict, reasons, scores), video_id, analysed)
    key = video_id.encode()
    fitted = fit_verdict(record, limit, key=key, headers=HEADERS)
    assert record_bytes(key, fitted.value, HEADERS) <= usable_bytes(limit)
    sent = json.loads(fitted.value)
    assert sent == fitted.record
    for name in ("verdict_id", "video_id", "verdict", "source", "run_id", "policy_version"):
        assert sent[name] == record[name]
    assert [(r["category"], r["action"]) for r in sent["reasons"]] == [
        (r["category"], r["action"]) for r in record["reasons"]]
    if "truncated" in sent:
        assert sent["truncated"] and all(n > 0 for n in sent["truncated"].values())
    else:
        assert sent == record


TEXT = st.fixed_dictionaries({"text": _huge_text(2_000), "score": st.floats(0, 1),
                              "first_s": st.floats(0, 1e4)})
FRAME = st.fixed_dictionaries({"at_s": st.floats(0, 1e4), "pdq": st.just("c" * 64),
                               "quality": st.integers(0, 100)})
LABEL = st.builds(LabelTag, _huge_text(3_000), _huge_text(300), st.floats(0, 1),
                  st.floats(0, 1), st.floats(0, 1e4), st.floats(0, 1e4))
MUSIC = st.fixed_dictionaries({"catalogue": _huge_text(100), "track_id": _huge_text(3_000)})


@settings(max_examples=60, deadline=None)
@given(_many(TEXT, 20_000), _many(FRAME, 20_000), _many(LABEL, 3_000), _many(MUSIC, 1_000),
       LIMIT)
def test_any_tags_record_fits_and_keeps_its_ids(
        text: list[dict[str, Any]], frames: list[dict[str, Any]], labels: list[LabelTag],
        music: list[dict[str, Any]], limit: int) -> None:
    record = _tags(text=text, frames=frames, labels=labels, music=music)
    fitted = fit_tags(record, limit, key=b"v1", headers=HEADERS)
    assert _fits(fitted.value, limit)
    sent = json.loads(fitted.value)
    assert sent == fitted.record
    assert (sent["video_id"], sent["verdict_id"], sent["source"]) == (
        record["video_id"], record["verdict_id"], record["source"])
    for name in ("text", "frames", "labels", "music"):  # every entry dropped is counted
        assert len(sent[name]) + sent.get("truncated", {}).get(name, 0) == len(record[name])
    if "truncated" not in sent:
        assert sent == record
