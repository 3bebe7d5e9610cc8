"""The visual signal: labels over frames, coarse words, the embedding record, the policy hook."""

from __future__ import annotations

import json

import numpy as np
import pytest

from consumer.media.resize import ResizeSpec
from consumer.models.specs import IMAGENET_LABELS, VISUAL_TAGGER
from consumer.policy.decide import ALLOW, REVIEW
from consumer.settings import PolicySettings, Settings
from consumer.signals import instances
from consumer.signals.assess import assess
from consumer.signals.base import Evidence
from consumer.signals.visual import VisualTags
from consumer.signals.visual.embedding import cosine, decode, encode, video_vector
from consumer.signals.visual.labels import aggregate, coarse_scores
from consumer.signals.visual.vocabulary import VOCABULARY
from tests.unit.pipeline.fake_work import keyframes

CAT = IMAGENET_LABELS.index("Egyptian cat")
RIFLE = IMAGENET_LABELS.index("assault rifle")


def _scores(rows: list[dict[int, float]]) -> np.ndarray:
    out = np.zeros((len(rows), 1000), np.float32)
    for i, row in enumerate(rows):
        for column, value in row.items():
            out[i, column] = value
    return out


def _settings(**env: str) -> Settings:
    return Settings(pipeline={"models": ["nsfw_classifier", "visual_tagger"]}, **env)  # type: ignore[arg-type]


def _evidence(scores: np.ndarray, embeddings: np.ndarray | None = None) -> Evidence:
    frames = keyframes([ResizeSpec.of(VISUAL_TAGGER)], 0, count=len(scores))
    nsfw = np.tile(np.array([[1.0, 0.0]], np.float32), (len(scores), 1))
    from consumer.models.specs import NSFW_CLASSIFIER
    return Evidence(frames, {VISUAL_TAGGER.name: scores, NSFW_CLASSIFIER.name: nsfw},
                    {VISUAL_TAGGER.name: VISUAL_TAGGER, NSFW_CLASSIFIER.name: NSFW_CLASSIFIER},
                    {}, embeddings={} if embeddings is None
                    else {VISUAL_TAGGER.name: embeddings})


def _visual(settings: Settings) -> VisualTags:
    return next(s for s in instances(settings) if isinstance(s, VisualTags))


def test_aggregate_gives_peak_mean_share_and_first_last_time_of_each_label() -> None:
    scores = np.array([[0.1, 0.9], [0.5, np.nan], [0.6, 0.0], [0.0, 0.0]], np.float32)
    labels = aggregate(scores, ["a", "b"], [0.0, 1.0, 2.0, 3.0], 0.4, 10)
    assert [x.label for x in labels] == ["b", "a"], "highest peak first"
    b, a = labels
    assert (b.peak, b.share, b.first_s, b.last_s) == (0.9, 0.25, 0.0, 0.0)
    assert (a.peak, a.mean, a.share, a.first_s, a.last_s) == (0.6, 0.3, 0.5, 1.0, 2.0)
    assert aggregate(scores, ["a", "b"], [0.0, 1.0, 2.0, 3.0], 0.95, 10) == []
    assert len(aggregate(scores, ["a", "b"], [0.0, 1.0, 2.0, 3.0], 0.4, 1)) == 1


def test_coarse_words_sum_their_classes() -> None:
    # Three cat classes at 0.3 each: no class reaches 0.5, "animal" does (0.9).
    scores = _scores([{281: 0.3, 282: 0.3, 285: 0.3, 900: 0.1}])
    words, names = coarse_scores(scores, VOCABULARY)
    assert words[0, names.index("animal")] == pytest.approx(0.9)
    assert words[0, names.index("vehicle")] == 0.0


def test_a_flat_or_diffuse_frame_makes_no_coarse_word() -> None:
    """Unrecognised frames spread their scores: 398 animal classes at 0.001 summed to 0.4."""
    flat = np.full((1, 1000), 0.001, np.float32)
    diffuse = _scores([{i: 0.04 for i in list(VOCABULARY["animal"])[:20]}])
    for scores in (flat, diffuse):
        words, _ = coarse_scores(scores, VOCABULARY)
        assert float(words.max()) == 0.0
    words, names = coarse_scores(_scores([{281: 0.06, 282: 0.04}]), VOCABULARY)
    assert words[0, names.index("animal")] == pytest.approx(0.06), "only classes >= 0.05"


def test_vocabulary_words_do_not_overlap_and_name_real_classes() -> None:
    seen = [i for indices in VOCABULARY.values() for i in indices]
    assert len(seen) == len(set(seen))
    assert all(0 <= i < 1000 for i in seen)
    assert CAT in VOCABULARY["animal"] and RIFLE in VOCABULARY["weapon"]


def test_video_vector_is_the_unit_mean_of_unit_frames_and_skips_broken_frames() -> None:
    frames = np.array([[3.0, 0.0], [0.0, 0.5], [np.nan, 1.0], [0.0, 0.0]], np.float32)
    vector = video_vector(frames)
    assert vector is not None
    np.testing.assert_allclose(vector, [2 ** -0.5, 2 ** -0.5], rtol=1e-6)
    assert video_vector(np.full((2, 4), np.nan, np.float32)) is None
    back = decode(encode(vector))
    assert back.dtype == np.float32 and cosine(back, vector) > 0.9999
    assert len(encode(np.ones(1280, np.float32) / 1280 ** 0.5)) == 3416, "2 bytes a value"


def test_judge_tags_labels_and_coarse_words_and_publishes_the_embedding() -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(3, 1280)).astype(np.float32)
    evidence = _evidence(_scores([{CAT: 0.8}, {CAT: 0.7}, {CAT: 0.1}]), embeddings)
    finding = _visual(_settings()).judge(evidence, None)
    visual = finding.tags["visual"]
    assert visual["labels"][0]["label"] == "Egyptian cat"
    assert visual["labels"][0]["share"] == pytest.approx(2 / 3, abs=1e-4)
    assert [w["label"] for w in visual["coarse"]] == ["animal"]
    record = finding.records["embeddings"]
    assert (record["model"], record["dims"], record["dtype"]) == ("visual_tagger", 1280,
                                                                  "float16")
    assert cosine(decode(record["vector"]), video_vector(embeddings)) > 0.999  # type: ignore[arg-type]
    json.dumps(finding.tags), json.dumps(finding.records)
    assert finding.reasons == [], "visual tags alone decide nothing"


def test_no_model_or_unusable_outputs_give_no_tags_and_no_record() -> None:
    visual = _visual(Settings())
    assert not visual.active, "visual_tagger is opt-in"
    evidence = _evidence(_scores([{CAT: 0.8}]))
    unusable = Evidence(evidence.keyframes, evidence.scores, evidence.specs, {},
                        outputs_ok=False)
    assert _visual(_settings()).judge(unusable, None).tags == {}
    off = _visual(_settings(signals={"visual": {"embeddings": False}}))  # type: ignore[arg-type]
    assert off.judge(_evidence(_scores([{CAT: 0.8}]), np.ones((1, 1280), np.float32)),
                     None).records == {}


def test_a_category_rule_on_weapon_classes_reviews_and_the_default_policy_does_not() -> None:
    evidence = _evidence(_scores([{RIFLE: 0.1}, {RIFLE: 0.7}]))
    default = _settings()
    assert assess(evidence, instances(default), PolicySettings()).decision.verdict == ALLOW
    strict = _settings(signals={"scores": {"categories": {  # type: ignore[arg-type]
        "nsfw": {"review": 0.5, "block": 0.8}, "weapon": {"review": 0.5}}}})
    decision = assess(evidence, instances(strict), PolicySettings()).decision
    assert decision.verdict == REVIEW
    assert [(r.category, r.at_s) for r in decision.reasons] == [("weapon", 1.0)]
