"""GPU node mode against CPU decoding, on a GPU machine, the same files in the same run.

Runs the service's own `KeyframeExtractor` (isolated worker processes, the coverage plan,
resizing to the model's 320x320) three ways: CPU workers on every core; NVDEC workers alone
(1..N); a combined node (CPU workers on every core plus NVDEC workers). Then decode -> batch
-> model on the GPU: frames batched 64 at a time into a ResNet-50 in fp16 (the default
classifier's family; random weights, as the rate, not the scores, is measured).

    python bench/gpu_decode.py --videos 48 --nvdec 1,2,4,8

Prints keyframes/s and ratios against the CPU run. PDQ hashing is off (it is the same CPU
work on both paths).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np

from consumer.media.config import DecodeConfig
from consumer.media.resize import ResizeSpec
from consumer.media.workers import KeyframeExtractor
from consumer.settings import DecodeSettings, GpuSettings, SourceSettings, WorkerSettings

SPEC = ResizeSpec(320, "pad")
SOURCE = SourceSettings(allowed_schemes=["file"])


def make_clip(path: Path, width: int, height: int, seconds: int, *, gop_s: float = 2.0,
              rate: int = 30) -> Path:
    """Textured H.264 (B-frames on, x264 veryfast), keyframe every `gop_s`: real keyframe
    weights, so decode costs what it costs on uploads."""
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height // 8, width // 8, 3), np.uint8).repeat(8, 0).repeat(8, 1)
    gop = round(gop_s * rate)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {
            "preset": "veryfast", "crf": "23",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        for i in range(seconds * rate):
            image = np.roll(base, (i * 3) % width, axis=1)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    return path


def run_pool(decode: DecodeConfig, uris: list[str]) -> tuple[float, int, dict[str, int]]:
    """Seconds, keyframes and videos per device for all `uris` through one pool (warmed)."""
    with KeyframeExtractor(decode, SOURCE) as pool:
        for future in [pool.submit(uri, [SPEC]) for uri in uris[: max(2, decode.workers.count +
                                                                    decode.gpu.nvdec_workers)]]:
            future.result()  # warm: workers forked, CUDA contexts and decoders made
        started = time.perf_counter()
        futures = [pool.submit(uri, [SPEC]) for uri in uris]
        results = [future.result() for future in futures]
        seconds = time.perf_counter() - started
    devices: dict[str, int] = {}
    for result in results:
        devices[result.device] = devices.get(result.device, 0) + 1
    return seconds, sum(len(r.pts_s) for r in results), devices


def end_to_end(decode: DecodeConfig, uris: list[str], batch: int) -> tuple[float, int]:
    """Decode -> batch -> ResNet-50 fp16 on the GPU; seconds and keyframes classified."""
    import torch
    import torchvision

    model = torchvision.models.resnet50(num_classes=2).eval().half().cuda()
    mean = torch.tensor([0.485, 0.456, 0.406], device="cuda").view(1, 3, 1, 1) * 255
    std = torch.tensor([0.229, 0.224, 0.225], device="cuda").view(1, 3, 1, 1) * 255

    def infer(rows: list[np.ndarray]) -> None:
        x = torch.from_numpy(np.stack(rows)).cuda(non_blocking=True)
        x = ((x.permute(0, 3, 1, 2).float() - mean) / std).half()
        with torch.inference_mode():
            model(x).float().softmax(1).cpu()

    infer([np.zeros((320, 320, 3), np.uint8)] * batch)
    with KeyframeExtractor(decode, SOURCE) as pool:
        for future in [pool.submit(uri, [SPEC]) for uri in uris[:8]]:
            future.result()
        started = time.perf_counter()
        pending: list[np.ndarray] = []
        done = 0
        for future in [pool.submit(uri, [SPEC]) for uri in uris]:
            pending.extend(future.result().frames[SPEC])
            while len(pending) >= batch:
                infer(pending[:batch])
                done += batch
                pending = pending[batch:]
        if pending:
            infer(pending)
            done += len(pending)
        torch.cuda.synchronize()
    return time.perf_counter() - started, done


def _line(name: str, seconds: float, keyframes: int, base: float | None,
          extra: Iterable[str] = ()) -> float:
    rate = keyframes / seconds
    ratio = f"{rate / base:5.2f}x CPU" if base else "  1.00x CPU"
    print(f"{name:34s} {keyframes:6d} keyframes in {seconds:7.2f} s = {rate:8.1f}/s  {ratio} "
          + " ".join(extra), flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--videos", type=int, default=48)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--nvdec", default="1,2,4,8")
    parser.add_argument("--cpu-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sizes", default="1920x1080,1280x720")
    parser.add_argument("--clips", type=Path, default=Path("/tmp/vmc-gpu-bench"))
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    args.clips.mkdir(parents=True, exist_ok=True)
    import torch

    print(f"device: {torch.cuda.get_device_name(0)}, {os.cpu_count()} CPU cores; "
          f"{args.videos} videos of {args.seconds} s, keyframe every 2 s, to {SPEC.size}x"
          f"{SPEC.size}", flush=True)
    base = DecodeConfig(limits=DecodeSettings(timeout_s=600),
                        workers=WorkerSettings(count=args.cpu_workers, threads=1, queue_size=4096),
                        gpu=GpuSettings(nvdec_workers=0))
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        started = time.perf_counter()
        clips = [make_clip(args.clips / f"{size}-{i}.mp4", width, height, args.seconds)
                 for i in range(4)]
        print(f"--- {size}: 4 distinct clips made in {time.perf_counter() - started:.1f} s, "
              f"{sum(c.stat().st_size for c in clips) / 4 / 1e6:.1f} MB each", flush=True)
        uris = [str(clips[i % len(clips)]) for i in range(args.videos)]
        seconds, keyframes, _ = run_pool(base, uris)
        cpu = _line(f"CPU, {args.cpu_workers} workers", seconds, keyframes, None)
        for count in (int(v) for v in args.nvdec.split(",")):
            decode = dataclasses.replace(base.with_workers(0),
                                         gpu=GpuSettings(decode="nvdec", nvdec_workers=count))
            seconds, keyframes, devices = run_pool(decode, uris)
            _line(f"NVDEC, {count} workers", seconds, keyframes, cpu, [str(devices)])
        top = max(int(v) for v in args.nvdec.split(","))
        combined = dataclasses.replace(base, gpu=GpuSettings(decode="nvdec", nvdec_workers=top))
        for workers in sorted({args.cpu_workers, args.cpu_workers // 2, args.cpu_workers // 4}):
            mixed = combined.with_workers(workers)
            seconds, keyframes, devices = run_pool(mixed, uris)
            _line(f"CPU {workers} + NVDEC {top} workers", seconds, keyframes, cpu,
                  [str(devices)])
        for name, decode in (("CPU", base), ("combined", combined)):
            seconds, keyframes = end_to_end(decode, uris, args.batch)
            _line(f"{name} -> batch {args.batch} -> ResNet-50", seconds, keyframes, cpu)


if __name__ == "__main__":
    main()
