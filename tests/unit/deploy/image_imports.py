"""Import every module of the `consumer` package in a fresh interpreter, the way the runtime
image would: with the packages the image leaves out (the model build tooling, the dev stack)
made unimportable, so a module-level import of either fails here as it would in the image.

Used by tests/unit/deploy/test_runtime_image.py (this checkout's venv, the left-out packages
blocked) and tests/integration/deploy/test_dockerfile_install.py (the image's own install).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Top-level packages of this repository that the runtime image does not contain.
NOT_IN_IMAGE = ("triton_models", "devstack")

# Runs in the child: a meta-path finder first in line refuses the blocked names, then
# pkgutil.walk_packages finds every module of `consumer` and each is imported. `__main__`
# modules are found but not run (importing one runs the command line).
_SCRIPT = r"""
import importlib, importlib.abc, json, pkgutil, sys

blocked = set(json.loads(sys.argv[1]))

class NotInImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the image)", name=name)
        return None

sys.meta_path.insert(0, NotInImage())

def failure(exc):
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    return {"error": f"{type(exc).__name__}: {exc}", "missing": missing}

import consumer

found, failed = [], {}
def on_error(name):
    failed[name] = failure(sys.exc_info()[1])

for info in pkgutil.walk_packages(consumer.__path__, "consumer.", onerror=on_error):
    found.append(info.name)
    if info.name.rpartition(".")[2] == "__main__":
        continue
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed[info.name] = failure(exc)

blockers = {}
for name in sorted(blocked):
    try:
        importlib.import_module(name)
        blockers[name] = "imported"
    except ImportError as exc:
        blockers[name] = type(exc).__name__
print(json.dumps({"file": consumer.__file__, "found": found, "failed": failed,
                  "blocked": blockers}))
"""


@dataclass(frozen=True)
class ImportReport:
    """What importing every `consumer` module gave: where `consumer` came from, the modules
    found, those that failed (name -> error and missing module) and whether each blocked
    package stayed unimportable."""

    file: str
    found: list[str]
    failed: dict[str, dict[str, str | None]]
    blocked: dict[str, str]


def import_every_module(python: Path | str, *, cwd: Path, env: dict[str, str],
                        blocked: tuple[str, ...] = NOT_IN_IMAGE) -> ImportReport:
    """Run the import walk under `python` in `cwd`; `blocked` top-level packages cannot be
    imported there whatever is on its path."""
    proc = subprocess.run([str(python), "-c", _SCRIPT, json.dumps(list(blocked))], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"the import walk itself failed:\n{proc.stderr}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return ImportReport(file=report["file"], found=report["found"], failed=report["failed"],
                        blocked=report["blocked"])
