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
from tests.unit.deploy.image_imports import NOT_IN_IMAGE, import_every_module
from tests.unit.deploy.manifests import ROOT

INSTALL_TIMEOUT_S = 300
# GPU node mode's modules import the [gpu] extra (torch, PyNvVideoCodec), which the CPU image
# leaves out on purpose: the consumer-gpu image has it.
GPU_EXTRA_IMPORTS = ("torch", "PyNvVideoCodec")


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


def _env(venv: Path) -> dict[str, str]:
    # No developer's dev stack, config or checkout (PYTHONPATH) leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_") and k != "PYTHONPATH"}
    env["HOME"] = str(venv.parent)
    return env


def _run(venv: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = _env(venv)
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


@pytest.mark.parametrize("package", NOT_IN_IMAGE)
def test_the_runtime_install_has_no_model_build_tooling(runtime_venv: Path, package: str) -> None:
    proc = _run(runtime_venv, "python", "-c", f"import {package}")
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


def test_vmc_scan_in_the_runtime_install_asks_for_triton_in_one_line(runtime_venv: Path) -> None:
    proc = _run(runtime_venv, "vmc", "scan", str(runtime_venv.parent / "upload.mp4"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "--triton URL" in line and "source checkout" in line


def test_every_consumer_module_imports_from_the_runtime_install(runtime_venv: Path) -> None:
    """Only what the image holds: a module that needed triton_models would fail here."""
    report = import_every_module(runtime_venv / "bin" / "python", cwd=runtime_venv.parent,
                                 env=_env(runtime_venv), blocked=())
    assert report.file.startswith(str(runtime_venv)), "imported from the repository"
    assert {"consumer.wiring", "consumer.cli.scan", "consumer.models.specs"} <= set(report.found)
    assert len(report.found) > 50
    wanting_more = {name: failure for name, failure in report.failed.items()
                    if (failure["missing"] or "").partition(".")[0] not in GPU_EXTRA_IMPORTS}
    assert wanting_more == {}
    assert {name.rpartition(".")[2] for name in report.failed} <= {
        "device_frames", "gpu_resize", "nvdec"}, "a module newly needs the [gpu] extra"


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
