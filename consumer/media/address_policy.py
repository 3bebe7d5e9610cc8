"""Which hosts and addresses a media URL may reach: pure logic, no DNS, no sockets.

SSRF defence for event URLs. A host written as an IP literal in any form the C resolver
accepts (`127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`, `[::ffff:127.0.0.1]`) is decoded
here exactly as `getaddrinfo` would decode it, so an encoded loopback or metadata address is
refused before any connection. So is every IPv6 form that embeds an IPv4 address (mapped,
IPv4-compatible, translated, 6to4, Teredo, NAT64 well-known and local-use): each embedded
address must pass too. Only globally routable addresses pass unless a network is explicitly
allowed (e.g. an in-cluster object store, or loopback in tests).
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
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, still routed by some stacks
_UNSPECIFIED_AND_LOOPBACK = ipaddress.ip_network("::/127")  # in ::/96, but embed no IPv4
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215
# RFC 6052 section 2.2: where the 32 IPv4 bits sit, as (first bit, bit count) runs, for each
# NAT64 prefix length (bits 64-71, the "u" octet, are skipped). A local-use /48 may hold any of
# the prefix lengths from 48 up.
_NAT64_RUNS = {48: ((48, 16), (72, 16)), 56: ((56, 8), (72, 24)), 64: ((72, 32),),
               96: ((96, 32),)}


def _nat64_embedded(value: int, prefix_len: int) -> ipaddress.IPv4Address:
    """The IPv4 address a NAT64 address with a prefix of `prefix_len` bits embeds."""
    embedded = 0
    for first, count in _NAT64_RUNS[prefix_len]:
        embedded = (embedded << count) | ((value >> (128 - first - count)) & ((1 << count) - 1))
    return ipaddress.IPv4Address(embedded)


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


def embedded_ipv4s(addr: IPAddress) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address may lead to: mapped, IPv4-compatible (not `::` or
    `::1`, which are themselves), translated, 6to4, Teredo (server and client), NAT64
    well-known, NAT64 local-use at each prefix length. A connection to any of these forms can
    end at the embedded address."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return []
    value = int(addr)
    found: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    compatible = addr in _IPV4_COMPATIBLE and addr not in _UNSPECIFIED_AND_LOOPBACK
    if compatible or addr in _IPV4_TRANSLATED or addr in _NAT64_WELL_KNOWN:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    if addr in _NAT64_LOCAL_USE:
        found.extend(_nat64_embedded(value, length) for length in _NAT64_RUNS)
    return list(dict.fromkeys(found))


def address_refusal(addr: IPAddress, allowed_networks: Sequence[IPNetwork] = ()) -> str | None:
    """Why `addr` may not be contacted, or None if it may; `allowed_networks` override."""
    for candidate in [addr, *embedded_ipv4s(addr)]:
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
