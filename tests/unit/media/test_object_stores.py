"""A custom object-store endpoint is a network destination like any other."""

from __future__ import annotations

import socket

import pytest

from consumer.errors import SourceRefused
from consumer.media.object_stores import endpoint_refusal, filesystem
from consumer.settings import SourceSettings


def _resolver(address: str):  # type: ignore[no-untyped-def]
    return lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "",
                                      (address, port))]


def test_a_loopback_or_private_endpoint_needs_allowed_networks() -> None:
    source = SourceSettings()
    refusal = endpoint_refusal("http://127.0.0.1:9000", source)
    assert refusal is not None and "loopback" in refusal and "allowed_networks" in refusal
    assert endpoint_refusal("http://minio.internal:9000", source,
                            resolver=_resolver("10.0.0.7")) is not None
    allowed = SourceSettings(allowed_networks=["127.0.0.1/32", "10.0.0.0/8"])
    assert endpoint_refusal("http://127.0.0.1:9000", allowed) is None
    assert endpoint_refusal("http://minio.internal:9000", allowed,
                            resolver=_resolver("10.0.0.7")) is None


def test_a_public_endpoint_still_obeys_the_host_allowlist() -> None:
    source = SourceSettings(allowed_hosts=["*.amazonaws.com"])
    assert endpoint_refusal("https://s3.eu-west-1.amazonaws.com", source,
                            resolver=_resolver("52.95.1.1")) is None
    refusal = endpoint_refusal("https://evil.example", source, resolver=_resolver("52.95.1.1"))
    assert refusal is not None and "allowed_hosts" in refusal


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_the_filesystem_refuses_an_endpoint_the_policy_forbids(scheme: str) -> None:
    key = "s3_endpoint_url" if scheme == "s3" else "gcs_endpoint_url"
    with pytest.raises(SourceRefused, match="loopback"):
        filesystem(scheme, SourceSettings(**{key: "http://127.0.0.1:1"}))
