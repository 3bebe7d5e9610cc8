"""Backtests: a draft re-decides exactly the videos it should; bad or old records are
reported and skipped; drafts merge over the deployment's settings; the diff and the
precision against reviewers' decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumer.backtest.draft import apply_draft, load_draft
from consumer.backtest.redecide import Redecider
from consumer.backtest.report import Report, render
from consumer.backtest.restore import BadRecord, parse, restore
from consumer.errors import ConfigError
from tests.unit.backtest.judged import SIGNALS, entry, judge, judged, settings, track

PEAKS = {"a": 0.1, "b": 0.39, "c": 0.4, "d": 0.45, "e": 0.4999, "f": 0.5, "g": 0.7,
         "h": 0.8, "i": 0.95}


def backtest(values: dict[str, bytes], draft: dict[str, object]) -> Report:
    redecide = Redecider(apply_draft(settings(), draft))
    report = Report()
    for video, value in values.items():
        try:
            record = parse(value)
            report.add(record["video_id"], record, redecide(restore(record)))
        except BadRecord as exc:
            report.skip(exc.reason)
            assert video.startswith("bad")
    return report


def recorded(**matched: object) -> dict[str, bytes]:
    j = judge(settings())
    out = {}
    for n, (video, peak) in enumerate(sorted(PEAKS.items())):
        live = judged(j, video, peak, offset=n, matched=matched.get(video))  # type: ignore[arg-type]
        assert live.signals is not None
        out[video] = live.signals.value
    return out


def test_a_draft_lowering_the_review_threshold_flips_exactly_the_videos_in_between() -> None:
    report = backtest(recorded(), {"signals": {"scores": {"categories": {
        "nsfw": {"review": 0.4, "block": 0.8}}}}})
    assert sorted(report.changed()) == ["c", "d", "e"]
    assert {o.new for o in report.changed().values()} == {"review"}
    summary = report.summary()
    cell = next(c for c in summary["verdicts"] if (c["old"], c["new"]) == ("allow", "review"))
    assert cell["videos"] == 3 and cell["samples"] == ["c", "d", "e"]
    assert summary["reasons_added"] == {"nsfw:review": 3}
    assert "allow -> review" in render(summary)


def test_the_same_policy_changes_nothing() -> None:
    report = backtest(recorded(), {})
    assert report.changed() == {} and len(report.outcomes) == len(PEAKS)


def test_raising_the_block_threshold_turns_blocks_into_reviews() -> None:
    report = backtest(recorded(), {"signals": {"scores": {"categories": {
        "nsfw": {"review": 0.5, "block": 0.9}}}}})
    assert sorted(report.changed()) == ["h"]
    assert report.changed()["h"].new == "review"


def test_a_draft_bank_action_and_a_removed_bank_re_decide_known_content() -> None:
    values = recorded(a={"known_content": [entry()]})
    assert parse(values["a"])["verdict"] == "block"
    review = [dict(bank, action="review") if bank["name"] == "csam" else bank
              for bank in SIGNALS["known_content"]["lists"]]
    demoted = backtest(values, {"signals": {"known_content": {"lists": review}}})
    assert {v: o.new for v, o in demoted.changed().items()} == {"a": "review"}
    gone = backtest(values, {"signals": {"known_content": {"lists": [
        b for b in SIGNALS["known_content"]["lists"] if b["name"] != "csam"]}}})
    assert {v: o.new for v, o in gone.changed().items()} == {"a": "allow"}


def test_a_draft_share_threshold_drops_video_matches_below_it() -> None:
    values = recorded(a={"known_content": [entry(kind="video", query_share=0.6)]},
                      b={"known_content": [entry(kind="video", query_share=0.9)]})
    stricter = [dict(bank, min_query_share=0.8) for bank in SIGNALS["known_content"]["lists"]]
    report = backtest(values, {"signals": {"known_content": {"lists": stricter}}})
    assert {v: o.new for v, o in report.changed().items()} == {"a": "allow"}


def test_a_catalogue_turned_to_tag_clears_its_music_reviews() -> None:
    values = recorded(a={"music": [track()]})
    assert parse(values["a"])["verdict"] == "review"
    report = backtest(values, {"signals": {"music": {"catalogues": [
        {"name": "label", "path": "/nonexistent/cat", "action": "tag"}]}}})
    assert {v: o.new for v, o in report.changed().items()} == {"a": "allow"}


def test_bad_and_old_records_are_reported_and_skipped() -> None:
    good = recorded()
    record = json.loads(good["c"])
    old_schema = dict(record, schema="vmc.signals/0")
    changed = json.loads(good["d"])
    changed["model_scores"]["nsfw_classifier"]["classes"] = ["safe", "unsafe"]
    short = json.loads(good["e"])
    short["model_scores"]["nsfw_classifier"]["rows"] = short["model_scores"][
        "nsfw_classifier"]["rows"][:2]
    unknown = json.loads(good["f"])
    unknown["model_scores"]["gone_model"] = unknown["model_scores"].pop("nsfw_classifier")
    broken_match = dict(json.loads(good["g"]), matched={"known_content": [{"bank": "x"}]})
    wrong_types = dict(json.loads(good["h"]), frames={"at_s": "zero"})
    values = {**good, "bad-json": b"{not json", "bad-null": b"null",
              "bad-list": b"[1, 2]", "bad-schema": json.dumps(old_schema).encode(),
              "bad-classes": json.dumps(changed).encode(),
              "bad-rows": json.dumps(short).encode(), "bad-model": json.dumps(unknown).encode(),
              "bad-match": json.dumps(broken_match).encode(),
              "bad-types": json.dumps(wrong_types).encode()}
    report = backtest(values, {})
    assert report.skipped == {"not_json": 3, "schema": 1, "classes_changed": 1,
                              "malformed": 3, "unknown_model": 1}
    assert len(report.outcomes) == len(PEAKS) and report.records == len(values)
    assert "skipped:" in render(report.summary())


def test_precision_and_recall_against_the_latest_decisions() -> None:
    report = backtest(recorded(), {"signals": {"scores": {"categories": {
        "nsfw": {"review": 0.4, "block": 0.8}}}}})
    decisions = {"c": "violating", "d": "not_violating", "g": "violating",
                 "a": "violating", "h": "violating"}
    against = report.summary(decisions)["against_decisions"]
    assert against["videos"] == 5
    assert against["flagged_old"] == {"precision": 1.0, "recall": 0.5, "tp": 2, "fp": 0,
                                      "fn": 2}
    assert against["flagged_new"] == {"precision": 0.75, "recall": 0.75, "tp": 3, "fp": 1,
                                      "fn": 1}
    assert against["block_new"]["tp"] == 1


def test_a_draft_merges_over_the_deployment_and_is_validated(tmp_path: Path) -> None:
    draft = tmp_path / "draft.toml"
    draft.write_text('[policy]\nversion = "draft-1"\n\n[signals.scores.categories.nsfw]\n'
                     'review = 0.4\n')
    merged = load_draft(settings(), draft)
    assert merged.policy.version == "draft-1"
    nsfw = merged.signals.raw("scores")["categories"]["nsfw"]
    assert (nsfw["review"], nsfw["block"]) == (0.4, 0.8)  # the default block is kept
    assert [b["name"] for b in merged.signals.raw("known_content")["lists"]] == ["csam", "fp"]
    with pytest.raises(ConfigError, match="only"):
        apply_draft(settings(), {"kafka": {"group_id": "x"}})
    with pytest.raises(ConfigError, match="block threshold"):
        Redecider(apply_draft(settings(), {"signals": {"scores": {"categories": {
            "nsfw": {"review": 0.9, "block": 0.8}}}}}))
    (tmp_path / "bad.toml").write_text("[policy\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_draft(settings(), tmp_path / "bad.toml")
