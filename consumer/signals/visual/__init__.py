"""Visual tags: what is in the picture, for search and recommendation (not a decision).

From a served ImageNet classifier with an embedding output (`visual_tagger`, EfficientNet-Lite0):
the classes seen over the video's frames (peak and mean score, share of frames, first and last
time), the coarse words over them (`vocabulary.py`: animal, vehicle, food...) in the tags
record, and the video's mean embedding as a record of its own on the embeddings topic. Policy
rules on visual classes go through the model's categories like any model score
(`signals.scores.categories.weapon`), so this signal has no reasons of its own.
"""

from __future__ import annotations

from typing import Any, ClassVar

from consumer.models.specs import IMAGENET_LABELS
from consumer.signals.base import Evidence, Finding, Signal, SignalSettings
from consumer.signals.visual.embedding import DTYPE, encode, video_vector
from consumer.signals.visual.labels import aggregate, coarse_scores
from consumer.signals.visual.settings import VisualSettings
from consumer.signals.visual.vocabulary import VOCABULARY


class VisualTags(Signal):
    name: ClassVar[str] = "visual"
    settings_model: ClassVar[type[SignalSettings]] = VisualSettings
    section: VisualSettings

    @property
    def active(self) -> bool:
        return self.section.model in self.settings.pipeline.models

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        model = self.section.model
        scores = evidence.scores.get(model)
        if scores is None or not evidence.outputs_ok:
            return Finding()  # not served, given up or unusable: nothing to say (no decision)
        spec, pts = evidence.specs[model], evidence.keyframes.pts_s
        section = self.section
        labels = aggregate(scores, spec.labels, pts, section.min_score, section.max_labels)
        coarse = []
        if spec.labels == IMAGENET_LABELS:
            words, names = coarse_scores(scores, VOCABULARY)
            coarse = aggregate(words, names, pts, section.min_score, len(names))
        tags = {"visual": {"model": model, "labels": [x.as_json() for x in labels],
                           "coarse": [x.as_json() for x in coarse]}}
        frames = evidence.embeddings.get(model)
        vector = video_vector(frames) if frames is not None and section.embeddings else None
        if vector is None:
            return Finding(tags=tags, matched=[x.label for x in coarse])
        record = {"model": model, "model_version": spec.version, "dtype": DTYPE,
                  "dims": int(vector.shape[0]), "frames": len(pts), "vector": encode(vector)}
        return Finding(tags=tags, matched=[x.label for x in coarse],
                       records={"embeddings": record})
