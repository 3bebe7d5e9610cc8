"""Assemble a ready Triton model repository (`<model>/config.pbtxt` + version folders)."""

from __future__ import annotations

import shutil
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent
SMOKE_MODEL = "smoke"


def write_repository(out: Path, models: tuple[str, ...] = (SMOKE_MODEL,)) -> Path:
    """Copy each model's source folder into `out`, replacing what was there."""
    out.mkdir(parents=True, exist_ok=True)
    for name in models:
        source = SOURCE_DIR / name
        if not (source / "config.pbtxt").exists():
            raise FileNotFoundError(f"no model source folder with config.pbtxt: {source}")
        dest = out / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return out
