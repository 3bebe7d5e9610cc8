"""The runtime image's install step, run for real: the Dockerfile's own pip install lines, in a
fresh venv, on a copy of exactly the files the Dockerfile copies. Needs PyPI (about a minute).

No Docker engine here, so the image itself is never built: this checks what it would contain.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.deploy.dockerfile import Stage, parse, pip_installs
from tests.unit.deploy.manifests import ROOT

INSTALL_TIMEOUT_S = 300


def _build_context(stage: Stage, dest: Path) -> Path:
    """Copy the stage's COPY sources from the repository as the Dockerfile lays them out."""
    workdir = dest / stage.all("WORKDIR")[0].lstrip("/")
    workdir.mkdir(parents=True)
    for copy in stage.all("COPY"):
        *sources, target = shlex.split(copy)
        for source in sources:
            src = ROOT / source
            out = workdir / (source if target in ("./", ".") else target)
            if src.is_dir():
                shutil.copytree(src, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out)
    return workdir


def _stage_env(stage: Stage, venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VMC_", "PIP_", "VIRTUAL"))}
    for args in stage.all("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            if key != "PATH":
                env[key] = value
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dockerfile = parse()
    (builder,) = [s for s in dockerfile.lineage(dockerfile.stage("runtime"))
                  if pip_installs(s)]
    root = tmp_path_factory.mktemp("image")
    workdir = _build_context(builder, root / "fs")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = _stage_env(builder, venv)
    for argv in pip_installs(builder):
        proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", *argv],
                              cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT_S, check=False)
        assert proc.returncode == 0, f"pip install {shlex.join(argv)} failed:\n{proc.stderr}"
    return venv


def _run(venv: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env["HOME"] = str(venv.parent)  # no developer's dev stack or config leaks in
    return subprocess.run([str(venv / "bin" / argv[0]), *argv[1:]], cwd=venv.parent, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_vmc_help_runs_from_the_runtime_install(runtime_venv: Path) -> None:
    proc = _run(runtime_venv, "vmc", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "run" in proc.stdout and "VMC_" in proc.stdout


def test_consumer_and_its_cli_import_from_the_runtime_install(runtime_venv: Path) -> None:
    proc = _run(runtime_venv, "python", "-c",
                "import consumer, consumer.cli, consumer.wiring; "
                "print(consumer.__file__)")
    assert proc.returncode == 0, proc.stderr
    assert str(runtime_venv) in proc.stdout, "imported from the repository, not the install"


def test_the_runtime_install_ships_the_service_only_and_vmc_dev_says_so(
        runtime_venv: Path) -> None:
    proc = _run(runtime_venv, "python", "-c", "import devstack")
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr
    proc = _run(runtime_venv, "vmc", "dev", "status")
    assert proc.returncode == 1
    assert "not part of this install" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("module", ["torch", "torchvision", "onnxruntime", "nudenet", "tensorrt",
                                    "rapidocr_onnxruntime", "cv2"])
def test_model_tooling_is_absent_from_the_runtime_install(runtime_venv: Path, module: str) -> None:
    proc = _run(runtime_venv, "python", "-c", f"import {module}")
    assert proc.returncode != 0
    assert "ModuleNotFoundError" in proc.stderr


def test_runtime_dependencies_are_exactly_the_projects_own(runtime_venv: Path) -> None:
    proc = _run(runtime_venv, "python", "-c",
                "import av, confluent_kafka, numpy, prometheus_client, pydantic, "
                "pydantic_settings, tritonclient.grpc, tritonclient.http")
    assert proc.returncode == 0, proc.stderr
