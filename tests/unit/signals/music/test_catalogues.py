"""Catalogue matches -> `music` tags and, for `review`/`block` catalogues, the verdict; a
soundtrack not heard in full is `review` when such a catalogue is configured."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from consumer.errors import ConfigError
from consumer.media.chromaprint import ITEM_S
from consumer.media.soundtrack import StreamFingerprint
from consumer.policy.decide import (
    ALLOW,
    BLOCK,
    INCOMPLETE_AUDIO,
    MUSIC_MATCH,
    REVIEW,
    UNPROCESSABLE,
    Decision,
)
from consumer.signals.music.catalogue import Track, save_catalogue
from consumer.signals.music.catalogues import (
    CatalogueMatch,
    MusicCatalogues,
    music_tags,
    with_music,
)
from consumer.signals.music.matching import (
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_DURATION_S,
    START_S,
    MusicMatch,
)
from consumer.signals.music.settings import MusicCatalogue, MusicSettings

HEARD = MusicMatch(track_id="track-7", start_s=12.04, end_s=31.96, reference_offset_s=40.1,
                   confidence=0.8712)


@pytest.mark.parametrize(("action", "verdict"), [("tag", ALLOW), ("review", REVIEW),
                                                  ("block", BLOCK)])
def test_a_catalogue_action_decides_what_a_track_heard_means(action: str, verdict: str) -> None:
    decision = with_music(Decision(ALLOW), [CatalogueMatch("labels", action, HEARD, 1)])
    assert decision.verdict == verdict
    if action == "tag":
        assert decision.reasons == []
    else:
        (reason,) = decision.reasons
        assert (reason.category, reason.rule, reason.detail, reason.at_s) == (
            MUSIC_MATCH, "labels", "track-7", 12.04)


def test_tags_list_each_track_where_it_plays() -> None:
    later = MusicMatch("track-2", 50.0, 70.0, 0.0, 0.7)
    tags = music_tags([CatalogueMatch("a", "tag", later, 1),
                       CatalogueMatch("b", "tag", HEARD, 2)])
    assert [t["track_id"] for t in tags] == ["track-7", "track-2"]
    assert tags[0] == {"catalogue": "b", "track_id": "track-7", "stream": 2, "start_s": 12.04,
                       "end_s": 31.96, "reference_offset_s": 40.1, "confidence": 0.871}


def test_catalogues_are_matched_with_their_name_and_action() -> None:
    rng = np.random.default_rng(3)
    tracks = [Track(f"t{i}", rng.integers(0, 2**32, 600, dtype=np.uint32)) for i in range(5)]
    settings = MusicSettings(catalogues=[MusicCatalogue(name="licensed", path="x", action="block")])
    catalogues = MusicCatalogues(settings, load=lambda path: tracks)
    noise = rng.integers(0, 2**32, 400, dtype=np.uint32)
    upload = np.concatenate([noise[:100], tracks[3].fingerprint[200:400], noise[100:]])
    (found,) = catalogues.match([StreamFingerprint(1, noise), StreamFingerprint(2, upload)])
    assert (found.catalogue, found.action, found.match.track_id) == ("licensed", "block", "t3")
    assert found.stream == 2
    assert abs(found.match.start_s - (100 * ITEM_S + START_S)) <= 1.0
    assert abs(found.match.reference_offset_s - (200 * ITEM_S + START_S)) <= 1.0
    assert catalogues.match([StreamFingerprint(1, noise)]) == []
    assert catalogues.match([]) == []
    assert catalogues.sizes == {"licensed": 5}


def test_a_catalogue_that_cannot_be_read_stops_the_start() -> None:
    def missing(path: str) -> list[Track]:
        raise FileNotFoundError(path)

    settings = MusicSettings(catalogues=[MusicCatalogue(name="labels", path="/nope.vmccat")])
    with pytest.raises(ConfigError, match=r"labels.*/nope\.vmccat"):
        MusicCatalogues(settings, load=missing)


def test_the_settings_defaults_are_the_matchers_measured_ones() -> None:
    assert MusicSettings().min_confidence == DEFAULT_MIN_CONFIDENCE
    assert MusicSettings().min_duration_s == DEFAULT_MIN_DURATION_S


def test_a_catalogue_without_tracks_stops_the_start_unless_declared_allowed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "empty.vmccat"
    save_catalogue([], path)
    settings = MusicSettings(catalogues=[MusicCatalogue(name="labels", path=str(path))])
    with pytest.raises(ConfigError, match=r"'labels'.*holds no track.*allow_empty"):
        MusicCatalogues(settings)
    allowed = MusicSettings(catalogues=[MusicCatalogue(name="labels", path=str(path),
                                                       allow_empty=True)])
    with caplog.at_level(logging.INFO, logger="consumer.signals.music"):
        assert MusicCatalogues(allowed).sizes == {"labels": 0}
    assert "music catalogue labels: 0 tracks" in caplog.text


def test_a_catalogue_over_its_size_limit_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "one.vmccat"
    save_catalogue([Track("t", np.arange(5000, dtype=np.uint32))], path)
    settings = MusicSettings(catalogues=[MusicCatalogue(name="labels", path=str(path),
                                                        max_bytes=10_000)])
    with pytest.raises(ConfigError, match="larger than its limit of 10000 bytes"):
        MusicCatalogues(settings)
    assert MusicCatalogues(MusicSettings(catalogues=[MusicCatalogue(
        name="labels", path=str(path), max_bytes=100_000)])).sizes == {"labels": 1}


def test_each_stream_is_matched_on_its_own() -> None:
    rng = np.random.default_rng(4)
    tracks = [Track(f"t{i}", rng.integers(0, 2**32, 600, dtype=np.uint32)) for i in range(3)]
    settings = MusicSettings(catalogues=[MusicCatalogue(name="c", path="x")])
    catalogues = MusicCatalogues(settings, load=lambda path: tracks)
    found = catalogues.match([StreamFingerprint(1, tracks[0].fingerprint[:300]),
                              StreamFingerprint(3, tracks[0].fingerprint[100:400])])
    assert sorted((m.stream, m.match.track_id) for m in found) == [(1, "t0"), (3, "t0")]


@pytest.mark.parametrize("audio", ["partial", "undecodable"])
def test_a_soundtrack_not_heard_in_full_is_review_where_music_is_enforced(audio: str) -> None:
    decision = with_music(Decision(ALLOW), [], audio=audio, why="cut at 60 s", enforced=True)
    assert decision.verdict == REVIEW
    (reason,) = decision.reasons
    assert (reason.category, reason.action) == (INCOMPLETE_AUDIO, REVIEW)
    assert reason.detail == f"soundtrack {audio}: cut at 60 s"


@pytest.mark.parametrize(("audio", "enforced"), [("ok", True), ("none", True), ("off", True),
                                                 ("partial", False), ("undecodable", False)])
def test_a_whole_soundtrack_no_audio_or_tag_only_catalogues_change_nothing(
        audio: str, enforced: bool) -> None:
    assert with_music(Decision(ALLOW), [], audio=audio, enforced=enforced) == Decision(ALLOW)


def test_a_track_heard_in_a_partial_soundtrack_still_blocks() -> None:
    decision = with_music(Decision(ALLOW), [CatalogueMatch("labels", "block", HEARD, 1)],
                          audio="partial", why="2 audio streams, 1 heard", enforced=True)
    assert decision.verdict == BLOCK
    assert {r.category for r in decision.reasons} == {MUSIC_MATCH, INCOMPLETE_AUDIO}
    assert with_music(Decision(UNPROCESSABLE), [], audio="undecodable",
                      enforced=True).verdict == UNPROCESSABLE


@pytest.mark.parametrize(("actions", "enforcing"), [(["tag"], False), (["tag", "review"], True),
                                                    (["block"], True), ([], False)])
def test_catalogues_enforce_when_one_reviews_or_blocks(actions: list[str],
                                                       enforcing: bool) -> None:
    settings = MusicSettings(catalogues=[MusicCatalogue(name=f"c{k}", path="x", action=action,
                                                         allow_empty=True)
                                         for k, action in enumerate(actions)])
    assert MusicCatalogues(settings, load=lambda path: []).enforcing is enforcing


def test_assess_passes_the_soundtrack_status_to_the_music_rule() -> None:
    import dataclasses

    from consumer.media.resize import ResizeSpec
    from consumer.settings import PolicySettings, Settings
    from consumer.signals import Evidence, instances
    from consumer.signals.assess import assess
    from consumer.signals.music import Music
    from tests.unit.pipeline.fake_work import SPEC, keyframes

    frames = keyframes([ResizeSpec.of(SPEC)], 0)
    scores = {SPEC.name: np.tile(np.array([[1.0, 0.0]], np.float32), (3, 1))}
    cut = dataclasses.replace(frames, audio="partial", audio_why="cut at 60 s")
    evidence = Evidence(cut, scores, {SPEC.name: SPEC}, {})
    signals = instances(Settings())
    music = next(s for s in signals if isinstance(s, Music))
    assert assess(evidence, signals, PolicySettings()).decision.verdict == ALLOW, "no catalogue"
    track = Track("t", np.arange(600, dtype=np.uint32))
    music.catalogues = MusicCatalogues(MusicSettings(catalogues=[MusicCatalogue(
        name="labels", path="x", action="block")]), load=lambda path: [track])
    result = assess(evidence, signals, PolicySettings())
    assert result.decision.verdict == REVIEW
    assert [r.category for r in result.decision.reasons] == [INCOMPLETE_AUDIO]
    assert result.technical["audio"] == "partial" and result.tags["music"] == []
