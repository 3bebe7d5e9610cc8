"""Each kustomization is rendered once per session; tests read the objects."""

from __future__ import annotations

import pytest

from tests.unit.deploy.manifests import KUSTOMIZATIONS, Obj, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Obj]]:
    return {name: render(path) for name, path in KUSTOMIZATIONS.items()}
