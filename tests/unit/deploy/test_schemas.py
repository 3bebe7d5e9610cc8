"""Every rendered object validates offline against its schema.

Core kinds: kubernetes-validate's strict JSON schemas for Kubernetes 1.32 (unknown fields fail).
Custom resources (KEDA, Prometheus Operator): the pydantic models that cloudcoil-models-keda and
cloudcoil-models-prometheus-operator generate from those projects' CRD schemas. pydantic drops
unknown keys instead of failing, so an object must also survive a round trip unchanged: a
misspelt or misplaced field disappears from the dump and fails the comparison.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from pydantic import BaseModel

from tests.unit.deploy.manifests import (
    HPA_COMPONENT,
    KUBERNETES_VERSION,
    KUSTOMIZATIONS,
    OVERLAYS,
    Obj,
    one,
    render,
)


def _crd_models() -> dict[tuple[str, str], type[BaseModel]]:
    from cloudcoil.models.keda.v1alpha1 import ScaledObject, TriggerAuthentication
    from cloudcoil.models.prometheus_operator.v1 import PodMonitor, PrometheusRule, ServiceMonitor

    return {
        ("keda.sh/v1alpha1", "ScaledObject"): ScaledObject,
        ("keda.sh/v1alpha1", "TriggerAuthentication"): TriggerAuthentication,
        ("monitoring.coreos.com/v1", "ServiceMonitor"): ServiceMonitor,
        ("monitoring.coreos.com/v1", "PodMonitor"): PodMonitor,
        ("monitoring.coreos.com/v1", "PrometheusRule"): PrometheusRule,
    }


CRD_MODELS = _crd_models()


def schema_errors(obj: Obj, version: str = KUBERNETES_VERSION) -> list[str]:
    """Why `obj` would be refused by an API server (Kubernetes `version`) with strict field
    validation; [] if valid."""
    where = f"{obj['kind']}/{obj['metadata']['name']}"
    model = CRD_MODELS.get((obj["apiVersion"], obj["kind"]))
    if model is None:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [f"{where}: {exc.message} at {'/'.join(map(str, exc.path))}"]
        except kubernetes_validate.SchemaNotFoundError as exc:
            return [f"{where}: {exc.message}"]
        return []
    try:
        parsed = model.model_validate(obj)
    except ValueError as exc:
        return [f"{where}: {exc}"]
    dumped: dict[str, Any] = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if dumped != obj:
        return [f"{where}: fields unknown to the CRD schema (round trip changed the object)"]
    return []


@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_every_rendered_object_validates_against_its_schema(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    errors = [e for obj in rendered[name] for e in schema_errors(obj)]
    assert errors == []


def test_hpa_alternative_validates_against_its_schema(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(OVERLAYS['dev'], tmp_path)}\n"
        f"components:\n  - {os.path.relpath(HPA_COMPONENT, tmp_path)}\n")
    assert [e for obj in render(tmp_path) for e in schema_errors(obj)] == []


@pytest.mark.parametrize(("kind", "path", "value"), [
    ("Deployment", ("spec", "template", "spec", "containers", 0, "livenessProbe", "httpGett"),
     {"path": "/healthz"}),
    ("Deployment", ("spec", "template", "spec", "terminationGracePeriodSeconds"), "120"),
    ("ScaledObject", ("spec", "triggers", 0, "metadata", "lagThreshold"), 50),
    ("ScaledObject", ("spec", "minReplicas"), 1),
    ("ServiceMonitor", ("spec", "endpoints", 0, "portName"), "http-metrics"),
    ("PrometheusRule", ("spec", "groups", 0, "rules", 0, "expression"), "up == 0"),
])
def test_schema_check_refuses_a_misspelt_or_mistyped_field(
        kind: str, path: tuple[str | int, ...], value: Any,
        rendered: dict[str, list[Obj]]) -> None:
    obj = copy.deepcopy(one(rendered["base"], kind, "vmc-consumer"))
    node: Any = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert schema_errors(obj) != []
