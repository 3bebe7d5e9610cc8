"""`python -m triton_models`: list the models, build a repository, build a TensorRT plan, export a
classifier."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from consumer.models.specs import OCR, SPECS
from triton_models.configs import TARGETS, Target
from triton_models.engine import (
    EngineBuild,
    build_engine,
    format_command,
    tensorrt_module,
    trtexec_command,
)
from triton_models.licences import LicenceNotAccepted, model_table
from triton_models.repository import SMOKE_MODEL, write_repository

# Built unless --models says otherwise: every model whose code and weights are permissive.
PERMISSIVE_MODELS = [name for name, spec in SPECS.items()
                     if spec.provenance is None or not spec.provenance.restrictive_licences]

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "vmc"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m triton_models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser(
        "list", help="the models, their source and licences, tensors and default",
        description="Print the model table of README's Models section: task, source package "
                    "and version, licence of code and of weights, input, outputs, and whether "
                    "`pipeline.models` runs it by default.")

    build = commands.add_parser(
        "build", help="write a ready model repository for a target",
        description="Write a Triton model repository for one target from the model specs. "
                    "cpu: python backend + onnxruntime (dev, tests); onnxruntime: Triton's "
                    "onnxruntime backend with the TensorRT accelerator; gpu: TensorRT plans "
                    "(built on the serving GPU with build-engine). A model whose code or "
                    "weights are not permissively licensed (nsfw_detector: AGPL-3.0) is built "
                    "only with --accept-licence.")
    build.add_argument("--target", choices=TARGETS, required=True)
    build.add_argument("--out", type=Path, required=True, help="repository folder")
    build.add_argument("--models", nargs="+", default=PERMISSIVE_MODELS,
                       choices=[*SPECS, SMOKE_MODEL],
                       help="models to write (default: the permissively licensed ones: "
                            f"{' '.join(PERMISSIVE_MODELS)})")
    build.add_argument("--accept-licence", action="append", default=[], metavar="SPDX",
                       dest="accept_licences",
                       help="build models under this non-permissive licence too, e.g. "
                            "AGPL-3.0 (repeatable; see `list`)")
    build.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
                       help="where built ONNX files are cached (default: %(default)s)")

    engine = commands.add_parser(
        "build-engine", help="build a TensorRT plan from an ONNX file",
        description="Build a TensorRT plan with one optimisation profile over the batch. "
                    "Without the TensorRT Python API (or with --dry-run) print the trtexec "
                    "command that does the same.")
    engine.add_argument("--onnx", type=Path, required=True)
    engine.add_argument("--out", type=Path, required=True, help="plan file, e.g. 1/model.plan")
    engine.add_argument("--fp16", action="store_true")
    engine.add_argument("--min-batch", type=int, default=1)
    engine.add_argument("--opt-batch", type=int, default=8)
    engine.add_argument("--max-batch", type=int, default=16)
    engine.add_argument("--workspace-mib", type=int, default=1024)
    engine.add_argument("--dry-run", action="store_true", help="only print the trtexec command")

    export = commands.add_parser(
        "export-torchvision", help="export a torchvision classifier as a tagging model",
        description="Export a torchvision classifier with the uint8 NHWC wrapper (dynamic "
                    "batch, opset 17), check torch vs onnxruntime parity, and write "
                    "OUT/NAME/ as a model folder.")
    export.add_argument("--arch", required=True, help="torchvision model name, e.g. resnet18")
    export.add_argument("--weights", type=Path, required=True, help="state_dict file (.pt)")
    export.add_argument("--labels", type=Path, required=True, help="one label per line")
    export.add_argument("--out", type=Path, required=True, help="repository folder")
    export.add_argument("--name", help="model name (default: the arch)")
    export.add_argument("--input-size", type=int, default=224)
    export.add_argument("--activation", choices=("softmax", "sigmoid"), default="softmax")
    export.add_argument("--target", choices=TARGETS, default="cpu")
    return parser


def _onnx_input(path: Path) -> tuple[str, tuple[int, ...]]:
    """The first input's name and its per-image dims, read from the ONNX file."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    first = graph.input[0]
    dims = tuple(int(d.dim_value) for d in first.type.tensor_type.shape.dim[1:])
    if not dims or min(dims) < 1:
        raise SystemExit(f"{path}: input {first.name} needs fixed per-image dims, got {dims}")
    return str(first.name), dims


def _list(args: argparse.Namespace) -> int:
    print(model_table())
    return 0


def _build(args: argparse.Namespace) -> int:
    target: Target = args.target
    try:
        out = write_repository(args.out, target=target, cache_dir=args.cache_dir,
                               models=tuple(args.models), accept_licences=args.accept_licences)
    except LicenceNotAccepted as exc:
        print(f"python -m triton_models build: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {target} repository: {out}")
    if target == "gpu":
        print("build each plan on the serving GPU, e.g.:")
        for name in args.models:
            if name == OCR.name:
                print("  (ocr: its networks are served on onnxruntime with the TensorRT "
                      "accelerator; no plan to build)")
            elif name in SPECS:
                spec = SPECS[name]
                model_dir = out / name
                print(f"  python -m triton_models build-engine --onnx {model_dir}/model.onnx "
                      f"--fp16 --min-batch 1 --opt-batch {spec.preferred_batch_sizes[0]} "
                      f"--max-batch {spec.max_batch_size} "
                      f"--out {model_dir}/{spec.version}/model.plan")
    return 0


def _build_engine(args: argparse.Namespace) -> int:
    input_name, dims = _onnx_input(args.onnx)
    build = EngineBuild(args.onnx, args.out, input_name, dims, args.min_batch, args.opt_batch,
                        args.max_batch, args.fp16, args.workspace_mib)
    trt = None if args.dry_run else tensorrt_module()
    if trt is None:
        if not args.dry_run:
            print("TensorRT's Python API is not importable here; run on the serving GPU:",
                  file=sys.stderr)
        print(format_command(trtexec_command(build)))
        return 0
    print(f"wrote {build_engine(build, trt)}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from triton_models.torchvision_export import export_torchvision

    result = export_torchvision(args.arch, args.weights, args.labels, args.out, name=args.name,
                                input_size=args.input_size, activation=args.activation,
                                target=args.target)
    print(f"wrote {result.model_dir} (torch vs onnxruntime max |diff| {result.max_abs_diff:.1e})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"list": _list, "build": _build, "build-engine": _build_engine,
                "export-torchvision": _export}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
