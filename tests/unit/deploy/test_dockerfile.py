"""The Dockerfile, read statically: what the runtime and tooling images are and how they run.

The runtime install itself is exercised in tests/integration/deploy (it needs PyPI).
"""

from __future__ import annotations

import fnmatch
import tomllib

from consumer.settings import MetricsSettings
from tests.unit.deploy.dockerfile import DOCKERIGNORE, exec_form, parse, pip_installs
from tests.unit.deploy.manifests import BASE, ROOT, containers, one, render

OCI_LABELS = ("title", "description", "version", "licenses")


def test_default_target_is_the_runtime_image_built_from_a_pinned_slim_python() -> None:
    dockerfile = parse()
    runtime = dockerfile.stages[-1]
    assert runtime.name == "runtime"
    for stage in dockerfile.lineage(runtime):
        base = dockerfile.resolve(stage.base)
        if dockerfile.is_stage(base):
            continue  # built on a stage of this file, itself in the lineage
        assert base.startswith("python:3.11") and "slim" in base, base
        assert ":latest" not in base
    assert [s.name for s in dockerfile.stages].count("model-tools") == 1


def test_runtime_installs_the_project_without_extras() -> None:
    dockerfile = parse()
    installs = [argv for stage in dockerfile.lineage(dockerfile.stage("runtime"))
                for argv in pip_installs(stage)]
    assert installs == [["--no-cache-dir", "."]]


def test_the_gpu_image_is_the_runtime_with_the_gpu_extra_on_top() -> None:
    dockerfile = parse()
    gpu = dockerfile.with_args(VENV="builder-gpu")
    installs = [argv for stage in gpu.lineage(gpu.stage("runtime"))
                for argv in pip_installs(stage)]
    assert installs == [["--no-cache-dir", "."], ["--no-cache-dir", ".[gpu]"]]
    assert "builder-gpu" not in [s.name for s in dockerfile.lineage(dockerfile.stage("runtime"))]
    extra = " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["gpu"])
    for package in ("pynvvideocodec", "torch", "tritonclient[cuda]"):
        assert package in extra


def test_the_speech_image_adds_silero_vad_without_torch() -> None:
    dockerfile = parse()
    speech = dockerfile.with_args(VENV="builder-speech")
    installs = [argv for stage in speech.lineage(speech.stage("runtime"))
                for argv in pip_installs(stage)]
    assert installs[0] == ["--no-cache-dir", "."]
    assert ["--no-cache-dir", "--no-deps", "silero-vad==6.2.3"] in installs
    assert not any("torch" in arg for argv in installs for arg in argv)
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["speech"]
    assert "silero-vad==6.2.3" in extra  # the image pins what the extra pins


def test_runtime_runs_vmc_run_as_a_numeric_non_root_user() -> None:
    runtime = parse().stage("runtime")
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or gid.isdigit())
    assert exec_form(runtime.all("ENTRYPOINT")[-1]) == ["vmc"]
    assert exec_form(runtime.all("CMD")[-1]) == ["run"]


def test_runtime_exposes_the_metrics_port_and_carries_oci_labels() -> None:
    runtime = parse().stage("runtime")
    assert runtime.all("EXPOSE") == [str(MetricsSettings().port)]
    labels = " ".join(runtime.all("LABEL"))
    for key in OCI_LABELS:
        assert f"org.opencontainers.image.{key}=" in labels


def test_runtime_uid_is_the_one_the_consumer_pods_run_as() -> None:
    uid = int(parse().stage("runtime").all("USER")[0].partition(":")[0])
    deployment = one(render(BASE), "Deployment", "vmc-consumer")
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid


def test_model_tools_installs_the_models_extra_on_the_tensorrt_release_triton_serves() -> None:
    dockerfile = parse()
    tools = dockerfile.stage("model-tools")
    base = dockerfile.resolve(tools.base)
    assert base.startswith("nvcr.io/nvidia/tensorrt:") and base.endswith("-py3")
    assert any(".[models]" in argv for argv in pip_installs(tools))
    assert tools.all("USER") and not tools.all("USER")[0].startswith("0")
    release = base.split(":")[1].removesuffix("-py3")
    triton = one(render(BASE), "Deployment", "triton")
    images = {c["name"]: c["image"] for c in containers(triton)}
    # A TensorRT plan only loads in the TensorRT version that built it.
    assert images["triton"] == f"nvcr.io/nvidia/tritonserver:{release}-py3"


def test_dockerignore_admits_exactly_what_the_images_copy() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pat = pattern.lstrip("!")
            if fnmatch.fnmatch(path, pat) or path.startswith(pat.rstrip("/") + "/"):
                result = not negate
        return result

    sources = {word for stage in parse().stages for copy in stage.all("COPY")
               if "--from=" not in copy for word in copy.split()[:-1]}
    assert sources == {"pyproject.toml", "README.md", "consumer", "triton_models"}
    for source in sources:
        assert not ignored(source), source
    for unwanted in (".venv", "tests", ".git", "k8s", "bench", "devstack"):
        assert ignored(unwanted), unwanted
