"""Visual tags end to end, through the real broker and tritonserver (`visual_tagger` served by
the stack's cpu-target repository): a video of scikit-image's cat photo is tagged with cat
classes and the coarse word `animal`; each video's mean embedding reaches the embeddings topic,
keyed by video; a cropped, resized re-encode of the cat is nearer to it than the coffee photo;
and the tagger changes no verdict under the default policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
from skimage import data

from consumer.settings import KafkaTopics
from consumer.signals.visual.embedding import cosine, decode
from devstack.kafka import create_topics, topic_configs, topic_layout
from devstack.samples import make_still_video
from tests.integration.conftest import RunningStack
from tests.integration.pipeline.conftest import (
    pipeline_settings,
    produce,
    read_topic,
    running_pipeline,
    upload_event,
)

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat"}


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return frame.reformat(width, height, "rgb24", interpolation="AREA").to_ndarray()


def _videos(folder: Path) -> dict[str, Path]:
    cat = data.chelsea()[:, :450]  # 300x451: even sizes for H.264
    h, w = cat.shape[:2]
    return {
        "cat": make_still_video(folder / "cat.mp4", cat, seconds=3.0),
        # 10% cut from the top and the left, then 320x240 and H.264 again: a near-duplicate.
        "cat-copy": make_still_video(folder / "cat-copy.mp4",
                                     _resize(cat[h // 10:, w // 10:], 320, 240)),
        "coffee": make_still_video(folder / "coffee.mp4", data.coffee()),  # 400x600
    }


def _by_video(messages: list[Any]) -> dict[str, dict[str, Any]]:
    return {json.loads(m.value())["video_id"]: json.loads(m.value()) for m in messages}


def test_a_cat_video_gets_cat_labels_and_an_embedding_nearer_its_copy_than_coffee(
    stack: RunningStack, topics: KafkaTopics, unique: str, tmp_path: Path,
) -> None:
    # The embeddings topic of this test alone (the `topics` fixture leaves it at its default).
    topics = topics.model_copy(update={"embeddings": f"{unique}.embeddings"})
    videos = _videos(tmp_path)
    events = [(n, upload_event(n, v.as_uri())) for n, v in videos.items()]
    tagged = pipeline_settings(stack, topics, group=unique, sampling={"max_keyframes": 4},
                               pipeline={"models": ["nsfw_classifier", "visual_tagger"]})
    create_topics(tagged.kafka.librdkafka_config(), topic_layout(topics), topic_configs(topics))
    produce(tagged, events)
    with running_pipeline(tagged):
        verdicts = _by_video(read_topic(tagged, topics.verdicts, expect=3, timeout_s=300))
        tags = _by_video(read_topic(tagged, topics.tags, expect=3, timeout_s=60))
        embedded = read_topic(tagged, topics.embeddings, expect=3, timeout_s=60)

    visual = tags["cat"]["visual"]
    assert visual["model"] == "visual_tagger"
    labels = {x["label"]: x for x in visual["labels"]}
    assert CAT_CLASSES & set(labels), f"no cat class in {sorted(labels)}"
    top = visual["labels"][0]
    assert top["label"] in CAT_CLASSES, top
    frames = verdicts["cat"]["keyframes_analyzed"]
    assert frames >= 2
    for label in visual["labels"]:
        assert 0.2 <= label["peak"] <= 1 and 0 < label["mean"] <= label["peak"]
        assert 0 < label["share"] <= 1 and 0 <= label["first_s"] <= label["last_s"] <= 3.0
    assert top["share"] == 1.0 and top["first_s"] == 0.0 and top["last_s"] > 0
    coarse = {x["label"]: x for x in visual["coarse"]}
    assert coarse["animal"]["peak"] > 0.9 and coarse["animal"]["share"] == 1.0
    assert not {x["label"] for x in tags["coffee"]["visual"]["labels"]} & CAT_CLASSES
    assert "animal" not in {x["label"] for x in tags["coffee"]["visual"]["coarse"]}

    assert sorted(m.key().decode() for m in embedded) == ["cat", "cat-copy", "coffee"]
    vectors = {}
    for message in embedded:
        record = json.loads(message.value())
        assert record["video_id"] == message.key().decode()
        assert record["model"] == "visual_tagger" and record["model_version"] == "1"
        assert record["dtype"] == "float16" and record["dims"] == 1280
        assert record["frames"] == verdicts[record["video_id"]]["keyframes_analyzed"]
        vector = decode(record["vector"])
        assert vector.shape == (1280,) and np.all(np.isfinite(vector))
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-2
        vectors[record["video_id"]] = vector
    near, far = cosine(vectors["cat"], vectors["cat-copy"]), cosine(vectors["cat"],
                                                                     vectors["coffee"])
    assert near > far + 0.2, (near, far)

    # The same uploads without the tagger (default models and policy): the same verdicts.
    plain_topics = topics.model_copy(update={"verdicts": f"{unique}.plain.verdicts",
                                             "tags": f"{unique}.plain.tags"})
    plain = pipeline_settings(stack, plain_topics, group=f"{unique}-plain",
                              sampling={"max_keyframes": 4})
    create_topics(plain.kafka.librdkafka_config(), topic_layout(plain_topics),
                  topic_configs(plain_topics))
    with running_pipeline(plain):
        untagged = _by_video(read_topic(plain, plain_topics.verdicts, expect=3, timeout_s=300))
    for video in videos:
        assert verdicts[video]["verdict"] == untagged[video]["verdict"] == "allow", video
        assert verdicts[video]["reasons"] == untagged[video]["reasons"] == [], video
        # The nsfw scores alike (batches may differ, so not to the last bit); the tagger adds
        # only its own policy category (`weapon`), far below any threshold here.
        plain_scores, scores = untagged[video]["scores"], verdicts[video]["scores"]
        assert plain_scores and set(scores) - set(plain_scores) <= {"weapon"}, video
        assert all(abs(scores[k] - v) < 1e-3 for k, v in plain_scores.items()), video
    assert verdicts["cat"]["models"] == {"nsfw_classifier": "1", "visual_tagger": "1"}
    assert "visual_tagger" not in untagged["cat"]["models"]
