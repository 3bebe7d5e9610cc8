"""A real `tritonserver` from the nvidia-pytriton wheel, serving the project's repository."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devstack.process import ProcessRecord, StackError, start_process


def pytriton_server_dir() -> Path:
    """The `tritonserver` folder inside the installed nvidia-pytriton wheel."""
    try:
        import pytriton
    except ImportError as exc:
        raise StackError(
            "nvidia-pytriton is not installed: pip install -e '.[dev]' (it ships tritonserver)"
        ) from exc
    server_dir = Path(pytriton.__file__).resolve().parent / "tritonserver"
    if not (server_dir / "bin" / "tritonserver").exists():
        raise StackError(f"no tritonserver binary under {server_dir}")
    return server_dir


def prepare_backends(server_dir: Path, dest: Path) -> Path:
    """A backend folder whose python backend has the stub for the running Python.

    The stub is linked, not copied: its rpath is relative to its real location in the wheel.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = server_dir / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.exists():
        raise StackError(f"nvidia-pytriton has no python backend stub for Python {version}")
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for item in [*(server_dir / "backends" / "python").iterdir(), stub]:
        if item.name == "__pycache__":
            continue
        link = python_dir / item.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(item)
    return dest


@dataclass(frozen=True)
class TritonPorts:
    http: int
    grpc: int
    metrics: int


class TritonServer:
    """Starts tritonserver on loopback and waits for /v2/health/ready."""

    def __init__(self, home: Path, model_repository: Path, ports: TritonPorts) -> None:
        self.home = home
        self.model_repository = model_repository
        self.ports = ports

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.ports.grpc}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.metrics}/metrics"

    def launch(self, *, ttl_s: float, die_with_parent: bool) -> ProcessRecord:
        """Start the process; the caller waits for `ready`."""
        server_dir = pytriton_server_dir()
        backends = prepare_backends(server_dir, self.home / "backends")
        # The python backend's stub imports packages of the first python3 on PATH: ours.
        venv_bin = str(Path(sys.executable).parent)
        env = dict(os.environ)
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
        argv = [
            str(server_dir / "bin" / "tritonserver"),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={backends}",
            "--http-address=127.0.0.1", f"--http-port={self.ports.http}",
            "--grpc-address=127.0.0.1", f"--grpc-port={self.ports.grpc}",
            "--metrics-address=127.0.0.1", f"--metrics-port={self.ports.metrics}",
            "--allow-cpu-metrics=true", "--log-verbose=0",
        ]
        record = start_process(
            "triton", argv, log=self.home / "triton.log", env=env,
            ttl_s=ttl_s, die_with_parent=die_with_parent,
        )
        return record

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=2) as resp:
            return bool(resp.status == 200)

    def version(self) -> str:
        with urllib.request.urlopen(f"{self.http_url}/v2", timeout=5) as resp:
            return str(json.load(resp)["version"])
