"""Assemble a ready Triton model repository (`<model>/config.pbtxt` + version folders).

Layout per model, following Triton's convention (`name` equals the folder):

    <model>/config.pbtxt        rendered from the spec for the target
    <model>/labels.txt          one label per line, in output order
    <model>/1/model.py          cpu: the python backend runner ...
    <model>/1/model.onnx        ... and the ONNX it runs (also the onnxruntime target's file)
    <model>/1/model.plan        gpu: built on the serving GPU by `build-engine`, never here
    <model>/model.onnx          gpu: the engine's source, outside the version folder
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path

from consumer.models.specs import (
    DEFAULT_MODELS,
    NSFW_CLASSIFIER,
    NSFW_DETECTOR,
    OCR,
    SPECS,
    VISUAL_TAGGER,
    ModelSpec,
)
from triton_models.configs import MODEL_FILES, Target, render_config
from triton_models.licences import require_accepted

SOURCE_DIR = Path(__file__).resolve().parent
SMOKE_MODEL = "smoke"
PYTHON_RUNNER = SOURCE_DIR / "python_backend" / "model.py"
# The local stack also serves the opt-in AGPL detector, on loopback only, for its tests: it
# builds with DEV_ACCEPTED_LICENCES, said here rather than hidden in a default.
DEV_MODELS = (SMOKE_MODEL, *DEFAULT_MODELS, NSFW_DETECTOR.name, OCR.name, VISUAL_TAGGER.name)
DEV_ACCEPTED_LICENCES = ("AGPL-3.0",)


def _fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _place(source: Path, dest: Path) -> None:
    """Hard-link when possible (the cache and the repository often share a disk), else copy."""
    dest.unlink(missing_ok=True)
    try:
        dest.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, dest)


def copy_source_model(out: Path, name: str) -> Path:
    """Copy a model kept as source in this package (`smoke`) into the repository."""
    source = SOURCE_DIR / name
    if not (source / "config.pbtxt").exists():
        raise FileNotFoundError(f"no model source folder with config.pbtxt: {source}")
    dest = out / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def write_model(out: Path, spec: ModelSpec, target: Target, onnx: Path) -> Path:
    """Write one model folder for `target` from its spec and its (wrapped) ONNX."""
    model_dir = _fresh_dir(out / spec.name)
    (model_dir / "config.pbtxt").write_text(render_config(spec, target))
    (model_dir / spec.labels_file).write_text("".join(f"{label}\n" for label in spec.labels))
    version_dir = model_dir / spec.version
    version_dir.mkdir()
    if target == "gpu":
        _place(onnx, model_dir / "model.onnx")
        return model_dir
    _place(onnx, version_dir / "model.onnx")
    if target == "cpu":
        shutil.copyfile(PYTHON_RUNNER, version_dir / MODEL_FILES["cpu"])
    return model_dir


def build_onnx(spec: ModelSpec, cache_dir: Path) -> Path:
    """The ONNX a spec'd model is served from, built once and cached under `cache_dir`."""
    if spec.name == NSFW_CLASSIFIER.name:
        from triton_models.opennsfw_wrap import cached_opennsfw_wrap

        return cached_opennsfw_wrap(cache_dir, spec)
    if spec.name == NSFW_DETECTOR.name:
        from triton_models.nudenet_wrap import cached_nudenet_wrap

        return cached_nudenet_wrap(cache_dir, spec)
    if spec.name == VISUAL_TAGGER.name:
        from triton_models.efficientnet_export import cached_tagger_export

        return cached_tagger_export(cache_dir, spec)
    raise ValueError(f"{spec.name}: no single ONNX to build (ocr is a chain: triton_models/ocr.py; "
                     "tagging models come from export-torchvision)")


def write_repository(out: Path, *, target: Target = "cpu", cache_dir: Path,
                     models: tuple[str, ...] = (SMOKE_MODEL, *DEFAULT_MODELS),
                     accept_licences: Collection[str] = ()) -> Path:
    """Write `models` for `target` into `out`, replacing those folders and leaving others.

    A model whose code or weights are not permissively licensed is written only when each such
    licence is in `accept_licences` (SPDX ids, any case); otherwise `LicenceNotAccepted` is
    raised before anything is written.
    """
    require_accepted([SPECS[name] for name in models if name in SPECS], accept_licences)
    out.mkdir(parents=True, exist_ok=True)
    for name in models:
        if name == OCR.name:
            from triton_models.ocr import write_ocr

            write_ocr(out, target)
        elif name in SPECS:
            spec = SPECS[name]
            write_model(out, spec, target, build_onnx(spec, cache_dir))
        else:
            copy_source_model(out, name)
    return out
