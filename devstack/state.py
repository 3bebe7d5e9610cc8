"""What a local stack keeps in its state folder about itself: the opt-in parts it was started
with (`options.json`) and where each part listens (`addresses.json`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

OPTIONS_FILE = "options.json"
ADDRESSES_FILE = "addresses.json"


@dataclass(frozen=True)
class StackOptions:
    """The opt-in parts: each costs start-up time, or a first fetch or build, that a stack
    without them does not pay."""

    secured_kafka: bool = False  # a second broker listener: SASL_SSL, SCRAM-SHA-512
    object_stores: bool = False  # s3proxy (S3 API) and fake-gcs-server (GCS API)
    # The broker's data on tmpfs, where fsync costs nothing: on a busy shared disk the KRaft
    # controller's metadata fsyncs stalled for minutes and fenced the only broker. Throw-away
    # data only (the test stack's); gone with `down`.
    kafka_data_in_memory: bool = False

    @classmethod
    def load(cls, state_dir: Path) -> StackOptions:
        """The options of the last `up` in `state_dir`; the defaults when there was none."""
        try:
            raw: dict[str, Any] = json.loads((state_dir / OPTIONS_FILE).read_text())
        except (OSError, ValueError):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: bool(v) for k, v in raw.items() if k in known})

    def save(self, state_dir: Path) -> None:
        (state_dir / OPTIONS_FILE).write_text(json.dumps(asdict(self), indent=2))


@dataclass(frozen=True)
class StackAddresses:
    """Where each part of a running stack listens ("" for a part the stack does not run)."""

    kafka_bootstrap: str
    triton_grpc: str
    triton_http: str
    triton_metrics_url: str
    prometheus_url: str
    kafka_sasl_ssl: str = ""
    s3_url: str = ""
    gcs_url: str = ""

    def env(self) -> dict[str, str]:
        """The environment that points `vmc` and the tests at this stack."""
        return {
            "VMC_KAFKA__BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "VMC_TRITON__URL": self.triton_grpc,
            "VMC_TRITON__METRICS_URL": self.triton_metrics_url,
            "VMC_PROMETHEUS_URL": self.prometheus_url,
        }

    def save(self, state_dir: Path) -> None:
        (state_dir / ADDRESSES_FILE).write_text(json.dumps(asdict(self), indent=2))


@dataclass(frozen=True)
class PartStatus:
    name: str
    address: str
    running: bool
    healthy: bool
    log: str
