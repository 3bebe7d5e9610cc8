"""The runtime image ships the service only: its stages copy no model build tooling, and every
module of `consumer` imports without it (and without the dev stack), so the image's files
suffice. The image's real install is exercised in tests/integration/deploy.
"""

from __future__ import annotations

import os
import re
import sys

from tests.unit.deploy.dockerfile import Dockerfile, Stage, parse
from tests.unit.deploy.image_imports import NOT_IN_IMAGE, import_every_module
from tests.unit.deploy.manifests import ROOT


def _copied(stages: list[Stage]) -> set[str]:
    """The build-context paths the stages COPY (not what they copy from other stages)."""
    return {word for stage in stages for copy in stage.all("COPY")
            if "--from=" not in copy for word in copy.split()[:-1]}


def _runtime_lineages() -> dict[str, list[Stage]]:
    dockerfile = parse()
    variants: dict[str, Dockerfile] = {"consumer": dockerfile,
                                       "consumer-gpu": dockerfile.with_args(VENV="builder-gpu")}
    return {name: d.lineage(d.stage("runtime")) for name, d in variants.items()}


def test_the_runtime_images_copy_the_service_and_no_model_build_tooling() -> None:
    for image, stages in _runtime_lineages().items():
        copied = _copied(stages)
        assert "consumer" in copied, image
        assert not {path for path in copied
                    if re.split(r"[/\\]", path.strip("./"))[0] in NOT_IN_IMAGE}, image


def test_the_model_tools_image_copies_the_tooling_and_the_contract_it_reads() -> None:
    copied = _copied([parse().stage("model-tools")])
    assert {"consumer", "triton_models"} <= copied


def test_every_consumer_module_imports_without_the_model_build_tooling_or_dev_stack() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMC_")}
    env["PYTHONPATH"] = str(ROOT)
    report = import_every_module(sys.executable, cwd=ROOT, env=env)
    assert report.file.startswith(str(ROOT / "consumer")), report.file
    assert report.blocked == {name: "ModuleNotFoundError" for name in NOT_IN_IMAGE}
    sources = sorted((ROOT / "consumer").rglob("*.py"))  # consumer/__init__.py: the walk's root
    assert len(report.found) == len(sources) - 1, "pkgutil missed modules of the package"
    for module in ("consumer.wiring", "consumer.cli.scan", "consumer.cli.dev",
                   "consumer.models.specs", "consumer.models.licences"):
        assert module in report.found
    assert report.failed == {}
