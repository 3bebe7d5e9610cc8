"""ONNX -> TensorRT plan, on the GPU that will serve it.

A plan is tied to the GPU model and TensorRT version that built it, so it is built where it
runs (a k8s Job before Triton starts), never committed. With the TensorRT Python API importable
the plan is built here; otherwise the equivalent `trtexec` command is returned for the caller
to print.
"""

from __future__ import annotations

import importlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EngineBuild:
    """One optimisation profile over the batch dimension; the per-image dims are fixed."""

    onnx: Path
    out: Path
    input_name: str
    input_dims: tuple[int, ...]
    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 16
    fp16: bool = False
    workspace_mib: int = 1024

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ValueError("batch sizes must satisfy 1 <= min <= opt <= max, got "
                             f"{self.min_batch}, {self.opt_batch}, {self.max_batch}")

    def shape(self, batch: int) -> tuple[int, ...]:
        return (batch, *self.input_dims)


def trtexec_command(build: EngineBuild) -> list[str]:
    """The `trtexec` invocation that builds the same plan as `build_engine`."""

    def shape(batch: int) -> str:
        return f"{build.input_name}:" + "x".join(str(d) for d in build.shape(batch))

    argv = [
        "trtexec",
        f"--onnx={build.onnx}",
        f"--saveEngine={build.out}",
        f"--minShapes={shape(build.min_batch)}",
        f"--optShapes={shape(build.opt_batch)}",
        f"--maxShapes={shape(build.max_batch)}",
        f"--memPoolSize=workspace:{build.workspace_mib}",
    ]
    if build.fp16:
        argv.append("--fp16")
    argv.append("--skipInference")
    return argv


def format_command(argv: list[str]) -> str:
    return shlex.join(argv)


def tensorrt_module() -> Any | None:
    """The `tensorrt` module, or None where it is not installed (no GPU node)."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError:
        return None


def build_engine(build: EngineBuild, trt: Any) -> Path:
    """Build and write the plan with the TensorRT Python API (TensorRT 8.6 or 10)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    explicit_batch = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    network = builder.create_network(0 if explicit_batch is None else 1 << int(explicit_batch))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(build.onnx.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {build.onnx}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, build.workspace_mib << 20)
    if build.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    profile.set_shape(build.input_name, build.shape(build.min_batch),
                      build.shape(build.opt_batch), build.shape(build.max_batch))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {build.onnx}")
    build.out.parent.mkdir(parents=True, exist_ok=True)
    build.out.write_bytes(bytes(plan))
    return build.out
