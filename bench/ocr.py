"""On-screen text: the served chain (`ocr` BLS on a tritonserver it starts) vs RapidOCR
in-process, same frames, same run: time per keyframe, agreement, character error rate.

    .venv/bin/python bench/ocr.py [--rounds 3] [--results FILE]

Frames are the rendered scenes of tests/unit/triton_models/ocr_samples.py (1920x1080 with
text; one on a photo), padded into the 960x960 `ocr` input as the decode workers send them.
The served side sends all of them in one request, as the pipeline's batches do.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from rapidocr_onnxruntime import RapidOCR

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit
from consumer.errors import InferenceError
from consumer.inference.triton_client import BatchScores, TritonModelClient
from consumer.models.specs import OCR
from devstack.process import free_port, stop_process, wait_until
from devstack.triton import TritonPorts, TritonServer
from tests.unit.triton_models.ocr_samples import as_sent, cer, scenes
from triton_models.ocr import write_ocr


def served(url: str, frames: np.ndarray) -> tuple[float, list[list[str]]]:
    client = TritonModelClient(url, OCR, timeout_s=600)
    done = threading.Event()
    box: list[BatchScores | InferenceError] = []
    started = time.perf_counter()
    client.infer_async(frames, lambda result: (box.append(result), done.set()))
    done.wait(620)
    elapsed = time.perf_counter() - started
    client.close()
    result = box[0]
    if not isinstance(result, BatchScores) or result.texts is None:
        raise SystemExit(f"served ocr failed: {result}")
    return elapsed, [[line.text for line in lines] for lines in result.texts]


def in_process(ocr: RapidOCR, frames: np.ndarray) -> tuple[float, list[list[str]]]:
    started = time.perf_counter()
    out = []
    for frame in frames:
        result, _ = ocr(np.ascontiguousarray(frame[..., ::-1]))
        out.append([str(text) for _, text, _ in (result or [])])
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    samples = scenes()
    names = list(samples)
    frames = np.stack([as_sent(samples[n][0]) for n in names])
    work = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
    write_ocr(work / "models", "cpu")
    server = TritonServer(work / "triton", work / "models",
                          TritonPorts(free_port(), free_port(), free_port()))
    record = server.launch(ttl_s=3600, die_with_parent=True)
    ocr = RapidOCR()
    try:
        wait_until("triton", server.ready, timeout_s=180, record=record)
        served(server.grpc_url, frames[:1])  # warm up both sides
        in_process(ocr, frames[:1])
        ours, reference = [], []
        for _ in range(args.rounds):  # interleaved: a load change hits both sides alike
            t_served, read_served = served(server.grpc_url, frames)
            t_ref, read_ref = in_process(ocr, frames)
            ours.append(t_served)
            reference.append(t_ref)
    finally:
        stop_process(record)
    per_frame = np.median(ours) / len(frames)
    per_frame_ref = np.median(reference) / len(frames)
    rows = ["| scene | written | served reads | same as RapidOCR | CER vs written |",
            "| --- | --- | --- | --- | ---: |"]
    rates = []
    for name, got, ref in zip(names, read_served, read_ref, strict=True):
        truth = " ".join(samples[name][1])
        rate = cer(truth, " ".join(got))
        rates.append(rate)
        rows.append(f"| {name} | {truth} | {' / '.join(got)} | {'yes' if got == ref else 'NO'} "
                    f"| {rate:.3f} |")
    lines = [f"Machine: {platform.machine()}, Python {platform.python_version()}; "
             f"{len(frames)} frames of {OCR.input_size}x{OCR.input_size}, median of "
             f"{args.rounds} interleaved rounds.", "",
             "| per keyframe | s |", "| --- | ---: |",
             f"| served: `ocr` BLS -> `ocr_det`/`ocr_cls`/`ocr_rec` (python backend + "
             f"onnxruntime, CPU) | {per_frame:.3f} |",
             f"| peer: RapidOCR in-process | {per_frame_ref:.3f} |",
             f"| ratio served / in-process | **{per_frame / per_frame_ref:.2f}** |", "",
             *rows, "", f"Mean character error rate vs the written text: "
             f"**{np.mean(rates):.3f}**; strings identical to RapidOCR's on "
             f"{sum(g == r for g, r in zip(read_served, read_ref, strict=True))}/{len(names)} "
             "frames."]
    emit(lines, args.results)


if __name__ == "__main__":
    main()
