"""Policy on the rendered output of every overlay: probes, resources, hardening, images, ports."""

from __future__ import annotations

import re

import pytest

from tests.unit.deploy.manifests import (
    KUSTOMIZATIONS,
    OVERLAYS,
    Obj,
    containers,
    find,
    label,
    one,
    pod_spec,
    workloads,
)

RENDERED_WITH_WORKLOADS = sorted(set(KUSTOMIZATIONS) - {"monitoring"})
_TAGGED = re.compile(r"^[a-z0-9.\-]+(:\d+)?(/[a-z0-9._\-]+)+:[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


def _all_containers(objs: list[Obj]) -> list[tuple[Obj, Obj]]:
    return [(w, c) for w in workloads(objs) for c in containers(w)]


@pytest.mark.parametrize("name", RENDERED_WITH_WORKLOADS)
def test_every_container_has_cpu_and_memory_requests_and_limits(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    for workload, container in _all_containers(rendered[name]):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), \
                f"{label(workload, container)} lacks {bound}"


@pytest.mark.parametrize("name", RENDERED_WITH_WORKLOADS)
def test_every_container_runs_non_root_read_only_without_capabilities(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    for workload, container in _all_containers(rendered[name]):
        pod = pod_spec(workload).get("securityContext", {})
        ctx = container.get("securityContext", {})
        where = label(workload, container)
        assert ctx.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
        assert ctx.get("runAsUser", pod.get("runAsUser", 0)) != 0, where
        assert ctx.get("readOnlyRootFilesystem") is True, where
        assert ctx.get("allowPrivilegeEscalation") is False, where
        assert ctx.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not ctx.get("capabilities", {}).get("add"), where
        assert not ctx.get("privileged"), where
        seccomp = ctx.get("seccompProfile", pod.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", where


@pytest.mark.parametrize("name", RENDERED_WITH_WORKLOADS)
def test_long_running_containers_have_liveness_and_readiness_probes(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    # Init containers run to completion before the pod starts; Job containers are batch work
    # with no server to ask (activeDeadlineSeconds bounds them instead).
    for workload in find(rendered[name], "Deployment"):
        for container in containers(workload, init=False):
            assert "livenessProbe" in container, label(workload, container)
            assert "readinessProbe" in container, label(workload, container)
            assert "startupProbe" in container, label(workload, container)
    for job in find(rendered[name], "Job"):
        assert job["spec"]["activeDeadlineSeconds"] > 0


@pytest.mark.parametrize("name", RENDERED_WITH_WORKLOADS)
def test_every_probe_targets_a_named_port_the_container_declares(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    for workload in workloads(rendered[name]):
        for container in containers(workload, init=False):
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe in container:
                    port = container[probe]["httpGet"]["port"]
                    assert port in ports, f"{label(workload, container)} {probe} -> {port}"


@pytest.mark.parametrize("name", RENDERED_WITH_WORKLOADS)
def test_every_image_is_from_a_registry_with_an_explicit_tag_never_latest(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    for workload, container in _all_containers(rendered[name]):
        image = container["image"]
        assert _TAGGED.match(image), f"{label(workload, container)}: {image} is not REPO:TAG"
        assert not image.endswith(":latest"), f"{label(workload, container)}: {image}"


@pytest.mark.parametrize("name", RENDERED_WITH_WORKLOADS)
def test_no_workload_mounts_a_service_account_token(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    for workload in workloads(rendered[name]):
        assert pod_spec(workload)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("name", ["base", *sorted(OVERLAYS)])
def test_services_and_service_monitors_name_ports_that_exist(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    objs = rendered[name]
    for service in find(objs, "Service"):
        selector = service["spec"]["selector"]
        pods = [w for w in find(objs, "Deployment")
                if selector.items() <= pod_spec_labels(w).items()]
        assert pods, f"Service/{service['metadata']['name']} selects no Deployment"
        declared = {p["name"] for w in pods for c in containers(w, init=False)
                    for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in declared, port
    for monitor in find(objs, "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        services = [s for s in find(objs, "Service")
                    if wanted.items() <= s["metadata"]["labels"].items()]
        assert services, f"ServiceMonitor/{monitor['metadata']['name']} selects no Service"
        names = {p["name"] for s in services for p in s["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in names


def pod_spec_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def test_prod_triton_gets_a_gpu_and_dev_triton_none(rendered: dict[str, list[Obj]]) -> None:
    def gpus(objs: list[Obj]) -> list[str | None]:
        triton = one(objs, "Deployment", "triton")
        return [c["resources"]["limits"].get("nvidia.com/gpu") for c in containers(triton)]

    assert gpus(rendered["prod"]) == ["1", None]
    assert gpus(rendered["dev"]) == [None, None]
    assert one(rendered["prod"], "Deployment", "triton")["spec"]["replicas"] > 1
    assert one(rendered["dev"], "Deployment", "triton")["spec"]["replicas"] == 1


def test_engine_build_runs_on_a_gpu_before_uploading(rendered: dict[str, list[Obj]]) -> None:
    job = one(rendered["prod-engine-build"], "Job", "triton-engine-build")
    (build,) = pod_spec(job)["initContainers"]
    (upload,) = pod_spec(job)["containers"]
    assert build["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "model-tools" in build["image"]
    assert "--target gpu" in build["args"][0] and "build-engine" in build["args"][0]
    assert "rclone copy /repository" in upload["args"][0]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_namespaces_enforce_the_restricted_pod_security_standard(
        rendered: dict[str, list[Obj]]) -> None:
    for name in (*OVERLAYS, "prod-engine-build"):
        labels = one(rendered[name], "Namespace")["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_consumer_ships_no_secret_values(rendered: dict[str, list[Obj]]) -> None:
    for name in RENDERED_WITH_WORKLOADS:
        assert not find(rendered[name], "Secret"), name
    consumer = one(rendered["prod"], "Deployment", "vmc-consumer")
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for c in containers(consumer)
            for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
    assert set(refs) == {"VMC_KAFKA__CLIENT__SASL_USERNAME", "VMC_KAFKA__CLIENT__SASL_PASSWORD"}
    assert {r["name"] for r in refs.values()} == {"vmc-kafka-credentials"}
