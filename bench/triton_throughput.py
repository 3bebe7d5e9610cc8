"""Triton-served nsfw_detector vs the same ONNX in-process, and dynamic batching vs none.

Same model file, same images, same run. Starts its own tritonserver (the nvidia-pytriton wheel's,
python backend + onnxruntime on CPU) on a `cpu`-target repository holding two configs of one
model: `nsfw_detector` (dynamic batching on, as built) and `nsfw_detector_unbatched` (the same
config without dynamic batching, so every request runs alone).

    .venv/bin/python bench/triton_throughput.py [--duration-s 3] [--rounds 8] \
        [--concurrency 8] [--results FILE]

Prints images/s and the two ratios; with --results writes them as Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient
from google.protobuf import text_format
from skimage import data

from consumer.models.specs import NSFW_DETECTOR
from devstack.process import free_port, stop_process, wait_until
from devstack.triton import TritonPorts, TritonServer
from triton_models.configs import model_config
from triton_models.nudenet_wrap import cached_nudenet_wrap
from triton_models.repository import write_model

UNBATCHED = "nsfw_detector_unbatched"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "colorwheel", "immunohistochemistry",
          "hubble_deep_field", "camera")


def images(size: int) -> np.ndarray:
    """scikit-image photos padded bottom/right and resized to size x size, as the client does."""
    out = []
    for name in PHOTOS:
        image = getattr(data, name)()
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        h, w = image.shape[:2]
        side = max(h, w)
        square = cv2.copyMakeBorder(image, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT)
        out.append(cv2.resize(square, (size, size), interpolation=cv2.INTER_LINEAR))
    return np.stack(out)


def write_bench_repository(repo: Path, onnx: Path) -> None:
    write_model(repo, NSFW_DETECTOR, "cpu", onnx)
    unbatched = dataclasses.replace(NSFW_DETECTOR, name=UNBATCHED)
    write_model(repo, unbatched, "cpu", onnx)
    config = model_config(unbatched, "cpu")
    config.ClearField("dynamic_batching")
    (repo / UNBATCHED / "config.pbtxt").write_text(text_format.MessageToString(config))


def rate(work: Callable[[int], int], duration_s: float, concurrency: int) -> float:
    """Images per second with `concurrency` threads each calling `work(thread)` in a loop."""
    stop = time.monotonic() + duration_s
    counts = [0] * concurrency

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            counts[i] += work(i)

    start = time.monotonic()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - start)


def in_process(onnx: Path, pixels: np.ndarray, batch: int, duration_s: float, *,
               spinning: bool = True) -> float:
    options = ort.SessionOptions()
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session: Any = ort.InferenceSession(str(onnx), options, providers=["CPUExecutionProvider"])
    chunk = np.resize(pixels, (batch, *pixels.shape[1:]))

    def work(_: int) -> int:
        session.run(None, {NSFW_DETECTOR.input_name: chunk})
        return batch

    work(0)
    return rate(work, duration_s, 1)


def served(url: str, model: str, pixels: np.ndarray, *, per_request: int, concurrency: int,
           duration_s: float) -> float:
    clients = [grpcclient.InferenceServerClient(url) for _ in range(concurrency)]

    def work(i: int) -> int:
        start = (i * per_request) % len(pixels)
        chunk = np.take(pixels, range(start, start + per_request), axis=0, mode="wrap")
        tensor = grpcclient.InferInput(NSFW_DETECTOR.input_name, list(chunk.shape), "UINT8")
        tensor.set_data_from_numpy(chunk)
        clients[i].infer(model, [tensor], client_timeout=120)
        return per_request

    for i in range(concurrency):
        work(i)
    return rate(work, duration_s, concurrency)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=3.0, help="per row and round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "vmc")
    parser.add_argument("--results", type=Path, help="write the figures here as Markdown")
    args = parser.parse_args()

    onnx = cached_nudenet_wrap(args.cache_dir)
    pixels = images(NSFW_DETECTOR.input_size)
    work_dir = Path(tempfile.mkdtemp(prefix="triton-bench-"))
    repo = work_dir / "models"
    write_bench_repository(repo, onnx)
    server = TritonServer(work_dir / "triton", repo,
                          TritonPorts(free_port(), free_port(), free_port()))
    record = server.launch(ttl_s=3600, die_with_parent=True)
    try:
        wait_until("triton", server.ready, timeout_s=120, record=record)
        runs: dict[str, Callable[[], float]] = {
            "in-process onnxruntime, batch 1": lambda: in_process(
                onnx, pixels, 1, args.duration_s),
            "in-process onnxruntime, batch 8": lambda: in_process(
                onnx, pixels, 8, args.duration_s),
            "in-process onnxruntime, batch 8, no spinning (as served)": lambda: in_process(
                onnx, pixels, 8, args.duration_s, spinning=False),
            f"Triton, dynamic batching, {args.concurrency} clients x 1 image": lambda: served(
                server.grpc_url, NSFW_DETECTOR.name, pixels, per_request=1,
                concurrency=args.concurrency, duration_s=args.duration_s),
            f"Triton, no batching, {args.concurrency} clients x 1 image": lambda: served(
                server.grpc_url, UNBATCHED, pixels, per_request=1,
                concurrency=args.concurrency, duration_s=args.duration_s),
        }
        # Short rounds interleave the configurations and the ratios are taken within each round:
        # a load change on the machine hits both sides of a ratio alike.
        samples: dict[str, list[float]] = {name: [] for name in runs}
        load_before = os.getloadavg()[0]
        for _ in range(args.rounds):
            for name, run in runs.items():
                samples[name].append(run())
        load_after = os.getloadavg()[0]
    finally:
        stop_process(record)
    figures = {name: float(np.median(values)) for name, values in samples.items()}
    rows = list(samples.values())
    best_in_process = np.max(rows[:3], axis=0)
    ratios = {
        "Triton (dynamic batching) / best in-process onnxruntime (target >= 0.9)":
            float(np.median(np.array(rows[3]) / best_in_process)),
        "dynamic batching / one image per request, both on Triton (CPU: ~1.1x expected)":
            float(np.median(np.array(rows[3]) / np.array(rows[4]))),
    }
    for name, value in figures.items():
        print(f"{name:>55}: {value:6.1f} images/s")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    if args.results:
        args.results.write_text(markdown(args, figures, ratios, (load_before, load_after)))
        print(f"wrote {args.results}")
    return 0


def markdown(args: argparse.Namespace, figures: dict[str, float], ratios: dict[str, float],
             load: tuple[float, float]) -> str:
    rows = "\n".join(f"| {name} | {value:.1f} |" for name, value in figures.items())
    ratio_rows = "\n".join(f"| {name} | {value:.2f} |" for name, value in ratios.items())
    return f"""## Models: Triton serving vs in-process, dynamic batching

Command: `.venv/bin/python bench/triton_throughput.py --duration-s {args.duration_s:g} \
--rounds {args.rounds} --concurrency {args.concurrency} --results bench/RESULTS-models.md`

Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), no GPU;
Python {platform.python_version()}, onnxruntime {ort.__version__}, tritonserver from
nvidia-pytriton (python backend running onnxruntime, `cpu` target). Model: `nsfw_detector`
(nudenet 320n wrapped: uint8 NHWC 320x320 in, scores + NMS detections out), the same ONNX file
for every row; {len(PHOTOS)} scikit-image photos padded and resized to 320x320, cycled.
Each row is the median of {args.rounds} interleaved rounds of {args.duration_s:g} s (after a
warm-up request); each ratio is the median of its per-round ratios, so load that other work puts
on the shared machine cancels out as far as it can; client and server share the cores. 1-minute
load average {load[0]:.1f} before, {load[1]:.1f} after (2 cores: other work was running).

| configuration | images/s |
| --- | ---: |
{rows}

| ratio | value |
| --- | ---: |
{ratio_rows}

No GPU was lent to this session, so the GPU batching target (>= 3x batched vs one image per
request, TensorRT plan) was not measured; on 2 CPU cores the model is compute-bound and
batching can only save per-request overhead.
"""


if __name__ == "__main__":
    sys.exit(main())
