"""Wrapped ONNX files, built once per fingerprint of what they depend on, saved atomically.

A wrapped model depends on its source ONNX (from a wheel), the code that wraps it and its
spec; the fingerprint hashes all three, so a change to any of them builds a new file and a
stale one is never served. The wrapping code is hashed as it was imported: hashing the file at
call time could name a graph built by old code after an edit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from consumer.models.specs import ModelSpec

Wrap = Callable[[Path, Path, ModelSpec], Path]


def fingerprint(source: Path, code: bytes, spec: ModelSpec) -> str:
    digest = hashlib.sha256()
    digest.update(source.read_bytes())
    digest.update(code)
    digest.update(repr(spec).encode())
    return digest.hexdigest()[:16]


def save_checked(graph: Any, source: Any, producer: str, out: Path) -> Path:
    """The wrapped graph as a model with the source's opsets and IR version, shapes inferred
    and checked in full, saved atomically to `out`."""
    import onnx
    from onnx import helper

    wrapped = helper.make_model(graph, opset_imports=list(source.opset_import),
                                producer_name=producer)
    wrapped.ir_version = source.ir_version
    wrapped = onnx.shape_inference.infer_shapes(wrapped)
    onnx.checker.check_model(wrapped, full_check=True)
    save_atomically(wrapped, out)
    return out


def save_atomically(model: Any, out: Path) -> None:
    """A unique temporary name, then a rename: concurrent builders never see half a file."""
    import onnx

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)


def cached_wrap(cache_dir: Path, spec: ModelSpec, source: Path, code: bytes,
                wrap: Wrap) -> Path:
    """`wrap(source, out, spec)` once per fingerprint, under `cache_dir/models`."""
    cached = cache_dir / "models" / f"{spec.name}-{fingerprint(source, code, spec)}.onnx"
    if not cached.exists():
        wrap(source, cached, spec)
    return cached
