"""Real object stores for the session: s3proxy (S3 API) and fake-gcs-server (GCS API) on
loopback, each on a folder of its own; fetched or built once into the dev cache."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from consumer.settings import load_settings
from devstack.object_stores import (
    S3_ACCESS_KEY,
    FakeGcs,
    S3Proxy,
    build_fake_gcs,
    fetch_s3proxy,
)
from devstack.process import free_port, stop_process, wait_until

# gcsfs >= 2025 asks each bucket's type over gRPC (zonal, hierarchical) before using it, which
# an emulator does not serve (60 s timeout per bucket): off, before gcsfs is imported.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


@dataclass(frozen=True)
class S3Store:
    endpoint: str
    access_key: str
    secret_key: str


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    jar = fetch_s3proxy(load_settings().dev.cache_dir)
    server = S3Proxy(tmp_path_factory.mktemp("s3proxy"), free_port(), jar,
                     secret_key=secrets.token_hex(16))
    record = server.launch(ttl_s=1800, die_with_parent=True)
    try:
        wait_until("s3proxy", server.ready, timeout_s=120, record=record)
        yield S3Store(server.url, S3_ACCESS_KEY, server.secret_key)
    finally:
        stop_process(record)


@pytest.fixture(scope="session")
def gcs_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = build_fake_gcs(load_settings().dev.cache_dir)
    server = FakeGcs(tmp_path_factory.mktemp("fake-gcs"), free_port(), binary)
    record = server.launch(ttl_s=1800, die_with_parent=True)
    try:
        wait_until("fake-gcs-server", server.ready, timeout_s=60, record=record)
        yield server.url
    finally:
        stop_process(record)


@pytest.fixture
def aws_env(s3_store: S3Store, monkeypatch: pytest.MonkeyPatch) -> S3Store:
    """Credentials where s3fs (botocore) reads them: the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_store.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_store.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # botocore >= 1.36 sends CRC checksums by default, which S3-compatible stores such as
    # s3proxy 2.4 refuse (NotImplemented): only when the operation requires one.
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    monkeypatch.setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return s3_store


def put_file(fs: object, local: Path, remote: str) -> None:
    fs.put_file(str(local), remote)  # type: ignore[attr-defined]
