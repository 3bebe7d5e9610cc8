"""Render the kustomizations under k8s/ and walk the objects they produce.

Rendering uses `kustomize build` or `kubectl kustomize`, whichever exists (scripts/bootstrap.sh
installs kustomize into ~/.local/bin where neither is on PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "k8s"
BASE = K8S / "base"
OVERLAYS = {"dev": K8S / "overlays" / "dev", "prod": K8S / "overlays" / "prod"}
ENGINE_BUILD = K8S / "overlays" / "prod-engine-build"
HPA_COMPONENT = K8S / "components" / "hpa"
GPU_NODE_COMPONENT = K8S / "components" / "gpu-node"
KUSTOMIZATIONS = {"base": BASE, **OVERLAYS, "prod-engine-build": ENGINE_BUILD,
                  "jobs/engine-build": K8S / "jobs" / "engine-build",
                  "monitoring": K8S / "monitoring"}
KUBERNETES_VERSION = "1.32"

Obj = dict[str, Any]


def renderer() -> list[str]:
    """The command that renders a kustomization directory given as the last argument."""
    kustomize = shutil.which("kustomize") or _in_local_bin("kustomize")
    if kustomize:
        return [kustomize, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    raise RuntimeError("no kustomize or kubectl: run scripts/bootstrap.sh (it installs kustomize)")


def _in_local_bin(name: str) -> str | None:
    candidates = [Path.home() / ".local" / "bin" / name]
    gopath = os.environ.get("GOPATH")
    candidates.append(Path(gopath) / "bin" / name if gopath else Path.home() / "go" / "bin" / name)
    return next((str(c) for c in candidates if os.access(c, os.X_OK)), None)


def render(directory: Path) -> list[Obj]:
    """Every object the kustomization at `directory` produces."""
    proc = subprocess.run([*renderer(), str(directory)], capture_output=True, text=True,
                          timeout=120, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"rendering {directory} failed:\n{proc.stderr}")
    return [obj for obj in yaml.safe_load_all(proc.stdout) if obj]


def find(objs: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [o for o in objs
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objs: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = find(objs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def workloads(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def containers(workload: Obj, *, init: bool = True) -> Iterator[Obj]:
    spec = pod_spec(workload)
    yield from spec.get("containers", [])
    if init:
        yield from spec.get("initContainers", [])


def label(workload: Obj, container: Obj) -> str:
    return f"{workload['kind']}/{workload['metadata']['name']}:{container['name']}"


def configmap_for(objs: list[Obj], prefix: str) -> Obj:
    """The ConfigMap generated from `prefix` (its name carries a content hash)."""
    found = [o for o in find(objs, "ConfigMap")
             if o["metadata"]["name"] == prefix or o["metadata"]["name"].startswith(prefix + "-")]
    assert len(found) == 1, f"expected one ConfigMap {prefix}, found {len(found)}"
    return found[0]
