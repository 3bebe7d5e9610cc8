"""The image set the served `nsfw_detector` is checked on, and its reference: the raw
`320n.onnx` in onnxruntime fed what YOLOv8 was trained on, RGB.

Images are as the client sends them (320x320 RGB uint8): photos shipped by scikit-image,
padded bottom/right to a square and resized to 320 (design.md section 6, NudeDetector's own
geometry), and generated frames. `NudeDetector` itself is no reference for scores: reading an
image file, it feeds the network BGR (notAI-tech/NudeNet issue #203); `file_scores` keeps that
behaviour at hand so a test can show the served model does not copy it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from skimage import data

from consumer.models.specs import NSFW_DETECTOR
from triton_models.nudenet_wrap import nudenet_onnx_path

SIZE = NSFW_DETECTOR.input_size
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "colorwheel", "immunohistochemistry",
          "hubble_deep_field", "camera")


def pad_resize(image: np.ndarray) -> np.ndarray:
    """Pad bottom/right to a square, resize to 320 (bilinear); grey becomes three channels."""
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    height, width = image.shape[:2]
    side = max(height, width)
    square = cv2.copyMakeBorder(image[..., :3], 0, side - height, 0, side - width,
                                cv2.BORDER_CONSTANT)
    return cv2.resize(square, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)


def generated_frames() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    ramp = np.linspace(0, 255, SIZE, dtype=np.float32)
    gradient = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (SIZE, 1)),
                         np.tile(ramp[:, None], (1, SIZE))], axis=-1).astype(np.uint8)
    noise = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    collage = noise.copy()
    collage[100:260, 140:300] = cv2.resize(data.astronaut(), (160, 160))
    return {"frame-gradient": gradient, "frame-noise": noise, "frame-black": np.zeros_like(noise),
            "frame-astronaut-on-noise": collage,
            "frame-astronaut-mirrored": pad_resize(data.astronaut())[:, ::-1].copy()}


def fidelity_images() -> dict[str, np.ndarray]:
    """Real photos shipped by scikit-image plus generated frames, all 320x320 RGB uint8."""
    photos = {name: pad_resize(getattr(data, name)()) for name in PHOTOS}
    return {**photos, **generated_frames()}


@cache
def _raw_session() -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(str(nudenet_onnx_path()), providers=["CPUExecutionProvider"])


def raw_output(blob: np.ndarray) -> np.ndarray:
    """The raw model's `[B, 22, N]` output (4 box fields, 18 class scores per anchor)."""
    (raw,) = _raw_session().run(None, {"images": blob})
    return np.asarray(raw)


def rgb_blob(images: np.ndarray) -> np.ndarray:
    """`[B, 320, 320, 3]` RGB uint8 as the raw model takes it: float NCHW, 0..1, still RGB."""
    return images.astype(np.float32).transpose(0, 3, 1, 2) * np.float32(1 / 255)


def class_scores(raw: np.ndarray) -> np.ndarray:
    """Each class's maximum over all anchors, `[B, 18]`."""
    return np.asarray(raw[:, 4:, :].max(axis=2))


def raw_scores(images: np.ndarray) -> np.ndarray:
    """The reference scores `[B, 18]`: the raw model on RGB."""
    return class_scores(raw_output(rgb_blob(images)))


def raw_detections(image: np.ndarray) -> list[dict[str, Any]]:
    """The reference detections of one 320x320 RGB image: NudeDetector's own post-processing
    (its NMS, IoU 0.45, score 0.25; boxes x, y, w, h truncated to whole pixels) of the raw
    model's output on RGB. The image is already the model's size: no padding, no scaling."""
    from nudenet import nudenet

    raw = raw_output(rgb_blob(image[None]))
    return list(nudenet._postprocess([raw], 0, 0, 1.0, 1.0, SIZE, SIZE, SIZE, SIZE))


def file_scores(image: np.ndarray, folder: Path) -> np.ndarray:
    """What NudeDetector's network sees for `image` saved as a PNG file and read back by
    `NudeDetector.detect(path)`: cv2 reads BGR, its two channel swaps cancel, so the model
    gets BGR (issue #203). Its per-class scores, `[18]`."""
    from nudenet import nudenet

    path = folder / "frame.png"
    cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
    blob = nudenet._read_image(str(path), SIZE)[0]
    return class_scores(raw_output(blob))[0]
