"""Every kustomization renders, and the overlays keep base's shape."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.deploy.manifests import (
    HPA_COMPONENT,
    KUSTOMIZATIONS,
    OVERLAYS,
    Obj,
    find,
    one,
    render,
)


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_every_kustomization_renders_named_objects(name: str,
                                                   rendered: dict[str, list[Obj]]) -> None:
    objs = rendered[name]
    assert objs, f"{name} rendered nothing"
    for obj in objs:
        assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"]


def test_base_holds_the_consumer_triton_and_monitoring(rendered: dict[str, list[Obj]]) -> None:
    base = rendered["base"]
    for kind, name in [("Deployment", "vmc-consumer"), ("ServiceAccount", "vmc-consumer"),
                       ("Service", "vmc-consumer-metrics"), ("ServiceMonitor", "vmc-consumer"),
                       ("PodDisruptionBudget", "vmc-consumer"), ("ScaledObject", "vmc-consumer"),
                       ("NetworkPolicy", "vmc-consumer"), ("Deployment", "triton"),
                       ("Service", "triton"), ("ServiceMonitor", "triton"),
                       ("PrometheusRule", "vmc-consumer")]:
        one(base, kind, name)


def test_monitoring_is_reused_from_k8s_monitoring_not_copied(
        rendered: dict[str, list[Obj]]) -> None:
    monitoring = {(o["kind"], o["metadata"]["name"]) for o in rendered["monitoring"]}
    for name in ("base", *OVERLAYS):
        objs = rendered[name]
        for kind, obj_name in monitoring:
            assert len(find(objs, kind, obj_name)) == 1, f"{name}: {kind}/{obj_name}"
        dashboards = one(objs, "ConfigMap", "vmc-consumer-dashboards")
        assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    base_dirs = {p.name for p in (KUSTOMIZATIONS["base"]).iterdir()}
    assert "dashboards" not in base_dirs and not any(
        p.suffix == ".json" for p in KUSTOMIZATIONS["base"].iterdir())


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_has_the_objects_of_base_in_its_own_namespace(
        overlay: str, rendered: dict[str, list[Obj]]) -> None:
    def names(objs: list[Obj]) -> set[tuple[str, str]]:
        # generated ConfigMaps carry a content hash that overlays legitimately change
        return {(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]
                 if o["kind"] == "ConfigMap" and o["metadata"]["name"] != "vmc-consumer-dashboards"
                 else o["metadata"]["name"]) for o in objs}

    objs = rendered[overlay]
    namespace = one(objs, "Namespace")["metadata"]["name"]
    assert names(objs) - {("Namespace", namespace)} == names(rendered["base"])
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]["name"]
            assert obj["metadata"]["labels"]["environment"] == overlay


def test_hpa_component_replaces_keda_instead_of_adding_to_it(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(OVERLAYS['prod'], tmp_path)}\n"
        f"components:\n  - {os.path.relpath(HPA_COMPONENT, tmp_path)}\n")
    objs = render(tmp_path)
    hpa = one(objs, "HorizontalPodAutoscaler", "vmc-consumer")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "vmc-consumer"}
    assert not find(objs, "ScaledObject") and not find(objs, "TriggerAuthentication")
