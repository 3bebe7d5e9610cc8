"""Cost per keyframe of the exported `visual_tagger` on this machine's CPUs, in-process
(onnxruntime) and served (a tritonserver of its own on a `cpu`-target repository: the python
backend running the same ONNX), interleaved in rounds so that both see the same load; and the
cosine of video vectors: crops and re-encodes of a photo vs unrelated photos.

    PYTHONPATH=. python bench/visual_tags.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient
from PIL import Image
from skimage import data
from skimage.transform import resize

from consumer.models.specs import VISUAL_TAGGER
from devstack.process import free_port, stop_process, wait_until
from devstack.triton import TritonPorts, TritonServer
from triton_models.efficientnet_export import cached_tagger_export
from triton_models.repository import write_model

BATCH = 16


def stretched(image: np.ndarray) -> np.ndarray:
    out = resize(image, (224, 224), order=1, anti_aliasing=True, preserve_range=True)
    return np.round(out).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def ms_per_keyframe(run: Callable[[], object], repeats: int = 5) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats / BATCH * 1000


def costs(onnx: Path, rounds: int) -> None:
    """In-process and served, batch 16 (one request), `rounds` interleaved rounds of 5 runs."""
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).integers(0, 256, (BATCH, 224, 224, 3), dtype=np.uint8)
    work = Path(tempfile.mkdtemp(prefix="visual-bench-"))
    write_model(work / "models", VISUAL_TAGGER, "cpu", onnx)
    server = TritonServer(work / "triton", work / "models",
                          TritonPorts(free_port(), free_port(), free_port()))
    record = server.launch(ttl_s=1800, die_with_parent=True)
    try:
        wait_until("triton", server.ready, timeout_s=180, record=record)
        client = grpcclient.InferenceServerClient(server.grpc_url)
        tensor = grpcclient.InferInput(VISUAL_TAGGER.input_name, list(batch.shape), "UINT8")
        tensor.set_data_from_numpy(batch)
        outputs = [grpcclient.InferRequestedOutput(n) for n in ("scores", "embeddings")]
        runs: dict[str, Callable[[], object]] = {
            "onnxruntime in-process": lambda: session.run(None, {"images": batch}),
            "Triton cpu target (python backend), gRPC": lambda: client.infer(
                VISUAL_TAGGER.name, [tensor], outputs=outputs, client_timeout=120)}
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():
            run()  # warm-up
        for _ in range(rounds):
            for name, run in runs.items():
                samples[name].append(ms_per_keyframe(run))
        client.close()
    finally:
        stop_process(record)
    for name, values in samples.items():
        v = np.asarray(values)
        print(f"{name}, batch {BATCH}: median {np.median(v):.1f} ms per keyframe "
              f"(rounds: {' '.join(f'{x:.1f}' for x in v)})")
    local, served = (np.asarray(v) for v in samples.values())
    ratio = np.median(served / local)
    print(f"served / in-process, median of per-round ratios: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    onnx = cached_tagger_export(Path(tempfile.gettempdir()) / "vmc-bench")
    costs(onnx, args.rounds)
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
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
