"""SSRF policy, pure: encoded IP literals decode like the resolver does, and only global
addresses pass unless a network is explicitly allowed."""

from __future__ import annotations

import ipaddress

import pytest

from consumer.media.address_policy import (
    address_refusal,
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
