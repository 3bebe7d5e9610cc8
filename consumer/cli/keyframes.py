"""`vmc keyframes FILE_OR_URL...`: see what the sampler takes from a video, and why it fails.

Runs the same isolated worker pool and the same source policy as the service (a local path
argument is allowed as such: the user named it). One line, or one JSON object, per video.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consumer.cli import UserError
from consumer.settings import Settings

if TYPE_CHECKING:
    from consumer.media import Keyframes


def _keyframes(args: argparse.Namespace, settings: Settings) -> int:
    import av

    from consumer.errors import MediaError
    from consumer.media import KeyframeExtractor, ResizeSpec
    from consumer.media.config import DecodeConfig
    from consumer.media.sources import allowing_named_files

    decode = DecodeConfig.of(settings).with_workers(len(args.inputs))  # frames only: no signal
    if args.max is not None:
        decode = decode.with_sampling(max_keyframes=args.max)
    source = allowing_named_files(settings.source, args.inputs)
    spec = ResizeSpec(args.size, args.mode)
    failures: list[str] = []
    with KeyframeExtractor(decode, source) as extractor:
        futures = [(uri, extractor.submit(uri, [spec])) for uri in args.inputs]
        for index, (uri, future) in enumerate(futures):
            try:
                result = future.result()
            except MediaError as exc:
                failures.append(f"{uri}: {exc.reason}: {exc}")
                continue
            probe = result.probe
            if args.out is not None:
                folder = Path(args.out) / (f"{index:03d}-" + Path(uri.split("?")[0]).stem)
                folder.mkdir(parents=True, exist_ok=True)
                for pts_s, pixels in zip(result.pts_s, result.frames[spec], strict=True):
                    frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                    frame.save(str(folder / f"{pts_s:010.3f}s.{args.format}"))
            if args.json:
                print(json.dumps(_as_json(uri, result)), flush=True)
            else:
                times = " ".join(f"{t:.2f}" for t in result.pts_s)
                covered = "" if result.coverage is None else (
                    f"; largest unseen gap {result.coverage.largest_gap_s:.2f}s of "
                    f"{result.coverage.max_gap_s:.2f}s allowed"
                    + ("" if result.coverage.complete else " (INCOMPLETE)"))
                print(f"{uri}: {probe.container}/{probe.codec} {probe.width}x{probe.height} "
                      f"{probe.duration_s:.1f}s rot={probe.rotation} "
                      f"{len(result.pts_s)} frames at {times}{covered}", flush=True)
    if len(failures) == 1 and len(args.inputs) == 1:
        raise UserError(failures[0])
    for line in failures:
        print(f"vmc: {line}", file=sys.stderr)
    if failures:
        raise UserError(f"{len(failures)} of {len(args.inputs)} inputs failed")
    return 0


def _as_json(uri: str, result: Keyframes) -> dict[str, Any]:
    probe = result.probe
    return {
        "uri": uri,
        "duration_s": probe.duration_s,
        "width": probe.width,
        "height": probe.height,
        "fps": probe.fps,
        "codec": probe.codec,
        "container": probe.container,
        "rotation": probe.rotation,
        "has_audio": probe.has_audio,
        "keyframes": [{"pts_s": t} for t in result.pts_s],
        "coverage": None if result.coverage is None else result.coverage.as_json(),
    }


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "keyframes", help="sample and resize the keyframes of videos (files or URLs)",
        description="Sample keyframes the way the service does (same limits, source policy "
        "and isolated workers) and print one line, or one JSON object, per video.")
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_URL",
                        help="local path, file://, http(s)://, gs:// or s3:// URI")
    parser.add_argument("--max", type=_positive, help="most keyframes (sampling.max_keyframes)")
    parser.add_argument("--size", type=_positive, default=320, help="output side (default 320)")
    parser.add_argument("--mode", choices=["pad", "stretch"], default="pad",
                        help="pad to square at bottom/right (default) or stretch")
    parser.add_argument("--out", metavar="DIR", help="write the resized keyframes as images")
    parser.add_argument("--format", choices=["png", "jpg"], default="png",
                        help="image format for --out (default png)")
    parser.add_argument("--json", action="store_true", help="one JSON object per video")
    parser.set_defaults(handler=_keyframes, decodes_video=True)
