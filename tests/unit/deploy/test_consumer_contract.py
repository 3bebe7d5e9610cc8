"""The manifests agree with what the consumer really is: its settings, port, paths and limits.

The settings file in each rendered ConfigMap, plus the container's VMC_* variables, are loaded
with the service's own `load_settings`; the probe paths are requested from a real HealthServer.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from consumer.models.specs import SPECS
from consumer.observability.health import HealthServer
from consumer.settings import CONFIG_FILE_ENV, MetricsSettings, Settings, load_settings
from tests.unit.deploy.manifests import (
    OVERLAYS,
    Obj,
    configmap_for,
    containers,
    one,
    pod_spec,
)

ENVIRONMENTS = ["base", *sorted(OVERLAYS)]
SETTINGS_FILE = "vmc.toml"
SECRET_PLACEHOLDER = "from-secret"
# librdkafka's sasl.mechanism -> the KEDA kafka scaler's `sasl` parameter
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256",
             "SCRAM-SHA-512": "scram_sha512", "OAUTHBEARER": "oauthbearer"}


def consumer_container(objs: list[Obj]) -> Obj:
    (container,) = containers(one(objs, "Deployment", "vmc-consumer"), init=False)
    return container


def mounted_settings_file(objs: list[Obj], pod: Obj, container: Obj) -> str:
    """Where `container` sees the settings file (its mount of the settings ConfigMap)."""
    configmap = configmap_for(objs, "vmc-consumer-settings")["metadata"]["name"]
    (volume,) = [v["name"] for v in pod["volumes"]
                 if v.get("configMap", {}).get("name") == configmap]
    (mount,) = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume]
    return f"{mount}/{SETTINGS_FILE}"


def container_settings(objs: list[Obj], pod: Obj, container: Obj, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings `container` would build: the settings file it mounts and its variables
    (Secret values as a placeholder), loaded with the service's own `load_settings`."""
    env = env_of(container)
    assert env[CONFIG_FILE_ENV] == mounted_settings_file(objs, pod, container)
    settings_file = tmp_path / SETTINGS_FILE
    settings_file.write_text(configmap_for(objs, "vmc-consumer-settings")["data"][SETTINGS_FILE])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(CONFIG_FILE_ENV, str(settings_file))
    return load_settings()


def container_env(objs: list[Obj]) -> dict[str, str]:
    """VMC_* variables as the pod gets them; Secret values stand in as a placeholder."""
    return env_of(consumer_container(objs))


def env_of(container: Obj) -> dict[str, str]:
    """A container's variables; Secret values stand in as a placeholder."""
    env: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var.get("valueFrom", {}):
            env[var["name"]] = SECRET_PLACEHOLDER
        else:
            raise AssertionError(f"unexpected env source for {var['name']}: {var}")
    return env


@pytest.fixture(params=ENVIRONMENTS)
def deployed(request: pytest.FixtureRequest, rendered: dict[str, list[Obj]],
             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[list[Obj], Settings]:
    """The rendered objects of one environment and the Settings its consumer pods would build."""
    objs = rendered[request.param]
    pod = pod_spec(one(objs, "Deployment", "vmc-consumer"))
    return objs, container_settings(objs, pod, consumer_container(objs), tmp_path, monkeypatch)


def is_setting(name: str) -> bool:
    """Whether VMC_A__B__C names a field of Settings (librdkafka's `client` takes any key)."""
    model: type[BaseModel] = Settings
    parts = name.removeprefix("VMC_").lower().split("__")
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation: Any = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            continue
        is_dict = getattr(annotation, "__origin__", None) is dict
        return index == len(parts) - 1 or (is_dict and index == len(parts) - 2)
    return False


def test_every_vmc_variable_in_the_manifests_is_a_real_setting(
        rendered: dict[str, list[Obj]]) -> None:
    for name in ENVIRONMENTS:
        for var in container_env(rendered[name]):
            assert var == CONFIG_FILE_ENV or is_setting(var), f"{name}: {var} is no setting"


def test_setting_name_check_refuses_typos() -> None:
    assert is_setting("VMC_KAFKA__CLIENT__SASL_PASSWORD")
    assert is_setting("VMC_DECODE__TIMEOUT_S")
    assert is_setting("VMC_WORKERS__COUNT")
    assert not is_setting("VMC_DECODE__TIMEOUT")
    assert not is_setting("VMC_DECODE__WORKERS"), "renamed: workers.count"
    assert not is_setting("VMC_KAFKA__SASL_PASSWORD")
    assert not is_setting("VMC_METRICS")


def test_settings_file_and_secrets_load_into_settings(
        deployed: tuple[list[Obj], Settings]) -> None:
    _, settings = deployed
    client = settings.kafka.librdkafka_config()
    assert client["sasl.username"] == SECRET_PLACEHOLDER
    assert client["sasl.password"] == SECRET_PLACEHOLDER
    assert client["security.protocol"] == "SASL_SSL"
    assert "file" not in settings.source.allowed_schemes


def test_termination_grace_outlasts_decode_limit_plus_drain(
        deployed: tuple[list[Obj], Settings]) -> None:
    objs, settings = deployed
    grace = pod_spec(one(objs, "Deployment", "vmc-consumer"))["terminationGracePeriodSeconds"]
    assert grace > settings.decode.timeout_s + settings.pipeline.shutdown_grace_s


def test_probes_and_metrics_port_match_the_port_the_consumer_serves(
        deployed: tuple[list[Obj], Settings]) -> None:
    objs, settings = deployed
    assert settings.metrics.port == MetricsSettings().port
    assert settings.metrics.host == "0.0.0.0"
    container = consumer_container(objs)
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("http-metrics", settings.metrics.port)
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = one(objs, "Service", "vmc-consumer-metrics")
    assert service["spec"]["ports"][0]["port"] == settings.metrics.port
    assert service["spec"]["publishNotReadyAddresses"] is True
    (endpoint,) = one(objs, "ServiceMonitor", "vmc-consumer")["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    server = HealthServer("127.0.0.1", 0, CollectorRegistry(), live=lambda: (True, {}),
                          ready=lambda: (True, {}))
    try:
        yield server
    finally:
        server.close()


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_every_probed_path_is_served_by_the_real_health_server(
        health_server: HealthServer, rendered: dict[str, list[Obj]]) -> None:
    paths = set()
    for name in ENVIRONMENTS:
        objs = rendered[name]
        container = consumer_container(objs)
        paths |= {container[p]["httpGet"]["path"]
                  for p in ("startupProbe", "livenessProbe", "readinessProbe")}
        monitor = one(objs, "ServiceMonitor", "vmc-consumer")
        paths |= {e["path"] for e in monitor["spec"]["endpoints"]}
    assert paths == {"/healthz", "/readyz", "/metrics"}
    for path in sorted(paths):
        assert _status(health_server.port, path) == 200, path
    assert _status(health_server.port, "/health") == 404


def test_memory_limit_holds_every_decode_worker_and_shared_memory(
        deployed: tuple[list[Obj], Settings]) -> None:
    objs, settings = deployed
    deployment = one(objs, "Deployment", "vmc-consumer")
    limit = _mib(consumer_container(objs)["resources"]["limits"]["memory"])
    (shm,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == "dshm"]
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {"mountPath": "/dev/shm", "name": "dshm"} in consumer_container(objs)["volumeMounts"]
    workers = settings.workers.count * settings.decode.memory_limit_mb
    assert limit > workers + _mib(shm["emptyDir"]["sizeLimit"])


def _mib(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity)
    assert match, f"use Mi or Gi: {quantity}"
    return float(match[1]) * (1024 if match[2] == "Gi" else 1)


def test_keda_scales_on_the_lag_of_the_consumers_own_group_and_topic(
        deployed: tuple[list[Obj], Settings]) -> None:
    objs, settings = deployed
    scaled = one(objs, "ScaledObject", "vmc-consumer")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert meta["bootstrapServers"] == settings.kafka.bootstrap_servers
    assert meta["consumerGroup"] == settings.kafka.group_id
    assert meta["topic"] == settings.kafka.topics.input
    assert int(meta["lagThreshold"]) > 0
    client = settings.kafka.librdkafka_config()
    assert meta["sasl"] == KEDA_SASL[str(client["sasl.mechanism"])]
    assert (meta["tls"] == "enable") == str(client["security.protocol"]).endswith("SSL")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "vmc-consumer"
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    auth = one(objs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    params = {r["parameter"] for r in auth["spec"]["secretTargetRef"]}
    assert params == {"username", "password", "ca"}


def test_consumer_reaches_triton_through_the_service_and_the_network_policy(
        deployed: tuple[list[Obj], Settings]) -> None:
    objs, settings = deployed
    host, port = settings.triton.url.rsplit(":", 1)
    service = one(objs, "Service", host)
    grpc = {p["name"]: p["port"] for p in service["spec"]["ports"]}["grpc"]
    assert int(port) == grpc
    egress = one(objs, "NetworkPolicy", "vmc-consumer")["spec"]["egress"]
    selector = service["spec"]["selector"]
    triton_rules = [r for r in egress
                    if any(t.get("podSelector", {}).get("matchLabels") == selector
                           for t in r.get("to", []))]
    assert grpc in {p["port"] for r in triton_rules for p in r["ports"]}
    kafka_port = int(settings.kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])
    assert any(p["port"] <= kafka_port <= p.get("endPort", p["port"])
               for r in egress for p in r["ports"] if "to" not in r)
    assert any(p["port"] == 53 and p["protocol"] == "UDP" for r in egress for p in r["ports"])


def test_dev_serves_the_onnxruntime_target_on_cpu_and_prod_the_gpu_plans(
        rendered: dict[str, list[Obj]]) -> None:
    dev = configmap_for(rendered["dev"], "triton-model-store")["data"]
    prod = configmap_for(rendered["prod"], "triton-model-store")["data"]
    assert dev["MODEL_REPOSITORY_PATH"].endswith("/onnxruntime")
    assert prod["MODEL_REPOSITORY_PATH"].endswith("/gpu")


def test_engine_build_uploads_where_prod_triton_pulls(rendered: dict[str, list[Obj]]) -> None:
    prod = configmap_for(rendered["prod"], "triton-model-store")["data"]
    job = configmap_for(rendered["prod-engine-build"], "engine-build-model-store")["data"]
    store_keys = {k for k in prod if k.startswith("RCLONE_CONFIG_STORE_")}
    assert {k: job[k] for k in store_keys} == {k: prod[k] for k in store_keys}
    assert job["MODEL_REPOSITORY_PATH"] == prod["MODEL_REPOSITORY_PATH"]


def test_engine_build_covers_every_served_model_with_its_spec_batch_range(
        rendered: dict[str, list[Obj]], deployed: tuple[list[Obj], Settings]) -> None:
    _, settings = deployed
    job = one(rendered["prod-engine-build"], "Job", "triton-engine-build")
    script = pod_spec(job)["initContainers"][0]["args"][0]
    for model in settings.pipeline.models:
        spec = SPECS[model]
        assert (f"--onnx /repository/{model}/model.onnx --fp16 --min-batch 1 "
                f"--opt-batch {spec.preferred_batch_sizes[0]} --max-batch {spec.max_batch_size} "
                f"--out /repository/{model}/{spec.version}/model.plan") in script
        assert re.search(rf"--models [^\n]*\b{model}\b", script)
