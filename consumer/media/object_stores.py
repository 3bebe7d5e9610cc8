"""`s3://` and `gs://` through fsspec (s3fs, gcsfs: the `[s3]`, `[gcs]` extras).

Credentials come from the environment as the cloud SDKs read them (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY or an instance/IRSA role; Application Default Credentials or workload
identity for GCS) and never pass through our settings or messages. A custom endpoint is a
network destination like an `http(s)://` source: it must pass the host allowlist and the
address policy, so an endpoint on a private or loopback address needs `source.allowed_networks`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from consumer.errors import SourceRefused, SourceUnreachable
from consumer.media.address_policy import (
    address_refusal,
    host_refusal,
    parse_ip_literal,
    parse_networks,
)
from consumer.settings import SourceSettings

EXTRAS = {"gs": "gcs", "gcs": "gcs", "s3": "s3", "s3a": "s3"}
Resolver = Callable[..., list[Any]]


def endpoint_of(scheme: str, source: SourceSettings) -> str | None:
    if scheme in ("s3", "s3a"):
        return source.s3_endpoint_url
    if scheme in ("gs", "gcs"):
        return source.gcs_endpoint_url
    return None


def endpoint_refusal(url: str, source: SourceSettings,
                     resolver: Resolver = socket.getaddrinfo) -> str | None:
    """Why the source policy forbids this endpoint, or None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    refusal = host_refusal(host, source.allowed_hosts)
    if refusal is not None:
        return refusal
    networks = parse_networks(source.allowed_networks)
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = resolver(host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise SourceUnreachable(f"cannot resolve endpoint {host}: {exc}") from exc
        addresses = [a for a in (parse_ip_literal(str(i[4][0])) for i in infos) if a]
    for address in addresses:
        refusal = address_refusal(address, networks)
        if refusal is not None:
            return f"endpoint {url}: {refusal} (allow it in source.allowed_networks)"
    return None


def filesystem(scheme: str, source: SourceSettings) -> Any:
    """The fsspec filesystem of `scheme` under the source policy's endpoint settings."""
    try:
        import fsspec  # type: ignore[import-untyped]
    except ImportError as exc:
        raise SourceUnreachable(f"{scheme}:// needs the optional extra: pip install "
                                f"'video-moderation-consumer[{EXTRAS.get(scheme, scheme)}]'") \
            from exc
    options: dict[str, Any] = {}
    endpoint = endpoint_of(scheme, source)
    if endpoint is not None:
        refusal = endpoint_refusal(endpoint, source)
        if refusal is not None:
            raise SourceRefused(refusal)
        options["endpoint_url"] = endpoint
    if scheme in ("gs", "gcs") and source.gcs_token is not None:
        options["token"] = source.gcs_token
    try:
        return fsspec.filesystem(scheme, **options)
    except ImportError as exc:
        raise SourceUnreachable(f"{scheme}:// needs the optional extra: pip install "
                                f"'video-moderation-consumer[{EXTRAS.get(scheme, scheme)}]' "
                                f"({exc})") from exc
    except ValueError as exc:
        raise SourceRefused(f"no filesystem for scheme {scheme!r}: {exc}") from exc
