"""Unit tests run with no servers and a clean environment: no VMC_* leaks in from the shell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_vmc_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("VMC_"):
            monkeypatch.delenv(name)
    # No developer's running dev stack may change the defaults under test.
    monkeypatch.setenv("VMC_DEV__STATE_DIR", str(tmp_path / "no-dev-stack"))
