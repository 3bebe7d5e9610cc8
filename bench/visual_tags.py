"""Cost per keyframe of the exported `visual_tagger` in onnxruntime on this machine's CPUs,
and the cosine of video vectors: crops and re-encodes of a photo vs unrelated photos.

    PYTHONPATH=. python bench/visual_tags.py
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from skimage import data
from skimage.transform import resize

from triton_models.efficientnet_export import cached_tagger_export


def stretched(image: np.ndarray) -> np.ndarray:
    out = resize(image, (224, 224), order=1, anti_aliasing=True, preserve_range=True)
    return np.round(out).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def main() -> None:
    onnx = cached_tagger_export(Path(tempfile.gettempdir()) / "vmc-bench")
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).integers(0, 256, (16, 224, 224, 3), dtype=np.uint8)
    session.run(None, {"images": batch})
    runs, start = 5, time.perf_counter()
    for _ in range(runs):
        session.run(None, {"images": batch})
    print(f"onnxruntime, batch 16: {(time.perf_counter() - start) / runs / 16 * 1000:.1f} ms "
          "per keyframe")
    photos = {n: getattr(data, n)() for n in ("chelsea", "coffee", "astronaut", "rocket",
                                               "hubble_deep_field", "immunohistochemistry",
                                               "retina", "colorwheel")}
    near: list[float] = []
    for photo in photos.values():
        h, w = photo.shape[:2]
        variants = [jpeg(photo, 30), photo[h // 10:, w // 10:], photo[:, : w * 4 // 5],
                    (photo * 0.7).astype(np.uint8), jpeg(photo[::2, ::2], 50)]
        images = np.stack([stretched(x) for x in (photo, *variants)])
        (emb,) = session.run(["embeddings"], {"images": images})
        unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        near += list(unit[1:] @ unit[0])
    names = list(photos)
    (emb,) = session.run(["embeddings"], {"images": np.stack([stretched(photos[n])
                                                              for n in names])})
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = unit @ unit.T
    far = [cos[i, j] for i in range(len(names)) for j in range(i + 1, len(names))]
    for label, values in (("near-duplicates", near), ("unrelated", far)):
        v = np.asarray(values)
        print(f"{label}: n={len(v)} min={v.min():.3f} median={np.median(v):.3f} "
              f"max={v.max():.3f}")


if __name__ == "__main__":
    main()
