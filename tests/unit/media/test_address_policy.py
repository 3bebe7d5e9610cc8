"""SSRF policy, pure: encoded IP literals decode like the resolver does, and only global
addresses pass unless a network is explicitly allowed."""

from __future__ import annotations

import ipaddress

import pytest

from consumer.media.address_policy import (
    address_refusal,
    embedded_ipv4s,
    host_refusal,
    parse_ip_literal,
    parse_networks,
)


@pytest.mark.parametrize(("host", "address"), [
    ("127.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
    ("[::1]", "::1"),
    ("169.254.169.254", "169.254.169.254"),
])
def test_ip_literals_in_any_form_are_decoded(host: str, address: str) -> None:
    assert parse_ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "video.cdn.example", "1.2.3.example", ""])
def test_names_are_not_ip_literals(host: str) -> None:
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "100.100.100.200", "0.0.0.0", "224.0.0.1", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "fd00:ec2::254", "fe80::1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::",
])
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "142.250.74.78", "2a00:1450:4001:82a::200e"])
def test_global_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_an_allowed_network_opens_exactly_that_network() -> None:
    allowed = parse_networks(["127.0.0.1/32", "10.20.0.0/16"])
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert address_refusal(ipaddress.ip_address("10.20.3.4"), allowed) is None
    assert address_refusal(ipaddress.ip_address("127.0.0.2"), allowed) is not None
    assert address_refusal(ipaddress.ip_address("10.21.0.1"), allowed) is not None


def test_host_allowlist_matches_exact_names_and_wildcard_suffixes() -> None:
    allowed = ["media.example.com", "*.storage.example.net"]
    assert host_refusal("media.example.com", allowed) is None
    assert host_refusal("MEDIA.example.com.", allowed) is None
    assert host_refusal("eu.storage.example.net", allowed) is None
    assert host_refusal("evil.example.com", allowed) is not None
    assert host_refusal("anything.example", []) is None


@pytest.mark.parametrize(("host", "form"), [
    ("[::7f00:1]", "IPv4-compatible"),
    ("[::127.0.0.1]", "IPv4-compatible, dotted"),
    ("[::ffff:0:7f00:1]", "IPv4-translated (RFC 2765)"),
    ("[::ffff:0:a9fe:a9fe]", "IPv4-translated metadata address"),
    ("[64:ff9b::7f00:1]", "NAT64 well-known prefix"),
    ("[64:ff9b:1::7f00:1]", "NAT64 local-use, /96 position"),
    ("[64:ff9b:1:7f00:0:100::]", "NAT64 local-use, /48 position"),
    ("[64:ff9b:1:7f:0:1::]", "NAT64 local-use, /56 position"),
    ("[64:ff9b:1:0:7f:0:100:0]", "NAT64 local-use, /64 position"),
    ("[2002:7f00:1::]", "6to4"),
    ("[2002:a9fe:a9fe::1]", "6to4 of the metadata address"),
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "Teredo, client 127.0.0.1 (obfuscated)"),
    ("[2001:0:7f00:1:8000:63bf:3fff:fdd2]", "Teredo, server 127.0.0.1"),
])
def test_ipv6_forms_embedding_a_non_global_ipv4_are_refused(host: str, form: str) -> None:
    address = parse_ip_literal(host)
    assert address is not None
    assert address_refusal(address) is not None, form


@pytest.mark.parametrize(("address", "embedded"), [
    ("::7f00:1", ["127.0.0.1"]),
    ("::ffff:0:7f00:1", ["127.0.0.1"]),
    ("2002:808:808::1", ["8.8.8.8"]),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", ["65.54.227.120", "192.0.2.45"]),
    ("64:ff9b::808:808", ["8.8.8.8"]),
    ("64:ff9b:1:7f00:0:100::", ["127.0.0.1", "0.0.1.0", "0.1.0.0", "0.0.0.0"]),
    ("::ffff:8.8.8.8", ["8.8.8.8"]),
    ("::", []),
    ("::1", []),
    ("2a00:1450:4001:82a::200e", []),
    ("8.8.8.8", []),
])
def test_the_embedded_ipv4_addresses_are_decoded(address: str, embedded: list[str]) -> None:
    assert [str(a) for a in embedded_ipv4s(ipaddress.ip_address(address))] == embedded


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8",
                                     "2a00:1450:4001:82a::200e"])
def test_forms_embedding_a_global_ipv4_still_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_an_allowed_network_covers_its_embedded_forms_too() -> None:
    allowed = parse_networks(["127.0.0.0/8"])
    assert address_refusal(ipaddress.ip_address("::7f00:1"), allowed) is None
    assert address_refusal(ipaddress.ip_address("::a00:1"), allowed) is not None  # 10.0.0.1


@pytest.mark.parametrize("host", ["[::7f00:1]", "[::ffff:0:7f00:1]", "[64:ff9b:1::7f00:1]",
                                  "[64:ff9b::7f00:1]", "[2002:7f00:1::1]"])
def test_allowing_loopback_opens_its_embedded_forms(host: str) -> None:
    address = parse_ip_literal(host)
    assert address is not None
    assert address_refusal(address) is not None
    # The NAT64 local-use form also decodes to 0.0.0.0 at the /48 and /56 positions.
    allowed = parse_networks(["127.0.0.0/8", "0.0.0.0/8"] if "ff9b:1:" in host
                             else ["127.0.0.0/8"])
    assert address_refusal(address, allowed) is None


def test_nat64_local_use_is_refused_if_any_prefix_length_decodes_to_a_non_global_ipv4() -> None:
    # 8.8.8.8 at the /96 position, but 0.0.0.0 at the /48 one: the operator's prefix is unknown.
    assert address_refusal(ipaddress.ip_address("64:ff9b:1::808:808")) is not None


def test_allowing_ipv6_loopback_opens_it_without_an_embedded_ipv4() -> None:
    assert address_refusal(ipaddress.ip_address("::1")) is not None
    assert address_refusal(ipaddress.ip_address("::1"), parse_networks(["::1/128"])) is None
