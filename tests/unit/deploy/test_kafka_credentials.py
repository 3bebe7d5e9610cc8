"""The consumer and KEDA reach Kafka with the same credentials: one Secret, the same keys for the
SASL username, password and the brokers' CA, wherever the manifests render."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from tests.unit.deploy.manifests import OVERLAYS, Obj, containers, one, pod_spec

ENVIRONMENTS = ["base", *sorted(OVERLAYS)]
USERNAME = "VMC_KAFKA__CLIENT__SASL_USERNAME"
PASSWORD = "VMC_KAFKA__CLIENT__SASL_PASSWORD"
CA_LOCATION = "VMC_KAFKA__CLIENT__SSL_CA_LOCATION"

SecretKey = tuple[str, str]  # (Secret name, key)


def _keda_refs(objs: list[Obj]) -> dict[str, SecretKey]:
    """TriggerAuthentication parameter -> the Secret key it reads, for the consumer's trigger."""
    (trigger,) = one(objs, "ScaledObject", "vmc-consumer")["spec"]["triggers"]
    auth = one(objs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    return {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}


def _consumer(objs: list[Obj]) -> tuple[Obj, Obj]:
    deployment = one(objs, "Deployment", "vmc-consumer")
    (container,) = containers(deployment, init=False)
    return deployment, container


def _env_secret_refs(container: Obj) -> dict[str, SecretKey]:
    return {var["name"]: (var["valueFrom"]["secretKeyRef"]["name"],
                          var["valueFrom"]["secretKeyRef"]["key"])
            for var in container.get("env", []) if "secretKeyRef" in var.get("valueFrom", {})}


def _mounted_secret_key(deployment: Obj, container: Obj, path: str) -> SecretKey:
    """The Secret key whose file the container sees at `path` (a secret volume's item)."""
    file = PurePosixPath(path)
    (mount,) = [m for m in container["volumeMounts"]
                if file.parent == PurePosixPath(m["mountPath"])]
    (volume,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == mount["name"]]
    assert "secret" in volume, f"{path} is not from a Secret: {volume}"
    (item,) = [i for i in volume["secret"].get("items", []) if i["path"] == file.name]
    return volume["secret"]["secretName"], item["key"]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_keda_and_the_consumer_read_the_same_secret_keys_for_username_password_and_ca(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    objs = rendered[name]
    keda = _keda_refs(objs)
    deployment, container = _consumer(objs)
    env = _env_secret_refs(container)
    assert env[USERNAME] == keda["username"]
    assert env[PASSWORD] == keda["password"]
    (ca_path,) = [v["value"] for v in container["env"] if v["name"] == CA_LOCATION]
    assert _mounted_secret_key(deployment, container, ca_path) == keda["ca"]
    assert len({secret for secret, _ in keda.values()}) == 1, "one Secret for all of them"


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_only_the_ca_of_the_kafka_secret_is_mounted_as_a_file(
        name: str, rendered: dict[str, list[Obj]]) -> None:
    """The password reaches the pod as one env var, never as a file next to the CA."""
    objs = rendered[name]
    secret = _keda_refs(objs)["password"][0]
    deployment, _ = _consumer(objs)
    volumes = [v["secret"] for v in pod_spec(deployment)["volumes"]
               if v.get("secret", {}).get("secretName") == secret]
    assert [[i["key"] for i in v["items"]] for v in volumes] == [[_keda_refs(objs)["ca"][1]]]
