"""Which hosts and addresses a media URL may reach: pure logic, no DNS, no sockets.

SSRF defence for event URLs. A host written as an IP literal in any form the C resolver
accepts (`127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`, `[::ffff:127.0.0.1]`) is decoded
here exactly as `getaddrinfo` would decode it, so an encoded loopback or metadata address is
refused before any connection. Only globally routable addresses pass unless a network is
explicitly allowed (e.g. an in-cluster object store, or loopback in tests).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Not global, but `ipaddress.is_global` of Python 3.11 misses some of these; listed explicitly.
_ALWAYS_BLOCKED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3",
        "::/127", "fc00::/7", "fe80::/10", "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address `host` denotes if it is an IP literal in any resolver-accepted form."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if not text or not all(part for part in text.split(".")):
        return None
    try:
        # inet_aton accepts the legacy forms (octal, hex, 1-3 parts) that getaddrinfo does.
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def embedded_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to (mapped, 6to4, NAT64), if any."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def address_refusal(addr: IPAddress, allowed_networks: Sequence[IPNetwork] = ()) -> str | None:
    """Why `addr` may not be contacted, or None if it may; `allowed_networks` override."""
    candidates = [addr]
    inner = embedded_ipv4(addr)
    if inner is not None:
        candidates.append(inner)
    for candidate in candidates:
        if any(candidate in net for net in allowed_networks if net.version == candidate.version):
            continue
        if any(candidate in net for net in _ALWAYS_BLOCKED if net.version == candidate.version):
            return f"address {candidate} is private, loopback, link-local or reserved"
        if not candidate.is_global:
            return f"address {candidate} is not globally routable"
    return None


def host_refusal(host: str, allowed_hosts: Sequence[str]) -> str | None:
    """Why `host` is outside the allowlist (exact names or `*.suffix` patterns), or None."""
    if not host:
        return "URL has no host"
    if not allowed_hosts:
        return None
    name = host.lower().rstrip(".")
    if any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in allowed_hosts):
        return None
    return f"host {host!r} is not in source.allowed_hosts"


def parse_networks(cidrs: Sequence[str]) -> tuple[IPNetwork, ...]:
    """CIDR strings from settings as networks (validated by the settings model)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)
