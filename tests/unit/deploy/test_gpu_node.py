"""The GPU node mode component: a consumer beside Triton that shares its GPU (one DRA claim)
and its process namespace (CUDA IPC), configured for NVDEC and CUDA shared memory with settings
the service really loads, scraped, and never able to take its Triton out of the Service."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consumer.settings import CONFIG_FILE_ENV, Settings
from tests.unit.deploy.manifests import (
    GPU_NODE_COMPONENT,
    OVERLAYS,
    Obj,
    containers,
    one,
    pod_spec,
    render,
)
from tests.unit.deploy.test_consumer_contract import container_settings, env_of, is_setting
from tests.unit.deploy.test_schemas import schema_errors

DRA_VERSION = "1.34"  # resource.k8s.io/v1: dynamic resource allocation, GA


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def gpu_node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             ) -> list[Obj]:
    """An overlay with the component, rendered."""
    folder = tmp_path_factory.mktemp(f"gpu-node-{request.param}")
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(OVERLAYS[request.param], folder)}\n"
        f"components:\n  - {os.path.relpath(GPU_NODE_COMPONENT, folder)}\n")
    return render(folder)


def _triton(objs: list[Obj]) -> tuple[Obj, Obj, Obj]:
    """The Triton pod spec, its Triton container and the consumer beside it."""
    deployment = one(objs, "Deployment", "triton")
    by_name = {c["name"]: c for c in containers(deployment, init=False)}
    return pod_spec(deployment), by_name["triton"], by_name["vmc-gpu-node"]


def test_every_object_validates_against_its_schema(gpu_node: list[Obj]) -> None:
    assert [e for obj in gpu_node for e in schema_errors(obj, DRA_VERSION)] == []


def test_triton_and_the_consumer_share_one_gpu_and_one_process_namespace(
        gpu_node: list[Obj]) -> None:
    pod, triton, consumer = _triton(gpu_node)
    assert pod["shareProcessNamespace"] is True
    (claim,) = pod["resourceClaims"]
    template = one(gpu_node, "ResourceClaimTemplate", claim["resourceClaimTemplateName"])
    (request,) = template["spec"]["spec"]["devices"]["requests"]
    assert request["exactly"] == {"deviceClassName": "gpu.nvidia.com", "count": 1}
    for container in (triton, consumer):
        assert container["resources"]["claims"] == [{"name": claim["name"]}]
        for kind in ("requests", "limits"):  # the device plugin would hand out a second GPU
            assert "nvidia.com/gpu" not in container["resources"].get(kind, {})


def test_the_consumer_loads_settings_for_nvdec_and_cuda_shared_memory(
        gpu_node: list[Obj], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pod, triton, consumer = _triton(gpu_node)
    env = env_of(consumer)
    for name in env:
        assert name == CONFIG_FILE_ENV or not name.startswith("VMC_") or is_setting(name), name
    settings = container_settings(gpu_node, pod, consumer, tmp_path, monkeypatch)
    assert settings.gpu.decode == "nvdec" and settings.triton.shared_memory == "cuda"
    grpc = {p["name"]: p["containerPort"] for p in triton["ports"]}["grpc"]
    assert settings.triton.url == f"127.0.0.1:{grpc}"
    assert "video" in env["NVIDIA_DRIVER_CAPABILITIES"].split(",")  # NVDEC's library
    assert pod["terminationGracePeriodSeconds"] > (settings.decode.timeout_s
                                                   + settings.pipeline.shutdown_grace_s)
    (port,) = consumer["ports"]
    assert port["containerPort"] == settings.metrics.port
    assert port["containerPort"] not in {p["containerPort"] for p in triton["ports"]}


def test_the_consumer_is_probed_for_liveness_only_and_scraped(gpu_node: list[Obj]) -> None:
    _, _, consumer = _triton(gpu_node)
    (port,) = consumer["ports"]
    for probe in ("startupProbe", "livenessProbe"):
        assert consumer[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert "readinessProbe" not in consumer  # its readiness would gate Triton's endpoints
    monitor = one(gpu_node, "PodMonitor", "vmc-gpu-node")
    labels = one(gpu_node, "Deployment", "triton")["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == [port["name"]]
    assert consumer["image"].endswith("consumer-gpu:0.1.0")


def test_triton_answers_until_the_consumer_beside_it_has_drained(gpu_node: list[Obj]) -> None:
    pod, triton, _ = _triton(gpu_node)
    settings = Settings()
    drain = settings.decode.timeout_s + settings.pipeline.shutdown_grace_s
    hold = triton["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert hold > drain
    assert pod["terminationGracePeriodSeconds"] >= hold + 30  # Triton's own exit timeout


def test_the_triton_pods_get_the_consumers_egress_rules(gpu_node: list[Obj]) -> None:
    policy = one(gpu_node, "NetworkPolicy", "vmc-gpu-node")
    labels = one(gpu_node, "Deployment", "triton")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    consumer_rules = one(gpu_node, "NetworkPolicy", "vmc-consumer")["spec"]["egress"]
    # the same rules, less the consumer's way to Triton (here on the pod's loopback)
    to_triton = [r for r in consumer_rules if any(
        peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        == "triton" for peer in r.get("to", []))]
    assert policy["spec"]["egress"] == [r for r in consumer_rules if r not in to_triton]
    _, triton, consumer = _triton(gpu_node)
    named = {p["name"] for p in triton["ports"] + consumer["ports"]}
    for rule in policy["spec"]["ingress"]:
        assert {p["port"] for p in rule["ports"]} <= named
