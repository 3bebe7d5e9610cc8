"""Media over HTTP: range reads only, SSRF refusals before any connection, redirects
re-checked, timeouts against slow servers, the byte cap, and hostile payloads."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from consumer.media import (
    CorruptMedia,
    MediaTooLarge,
    ResizeSpec,
    SourceRefused,
    SourceTimeout,
    SourceUnreachable,
    UnsupportedContainer,
    extract_keyframes,
    http_source,
)
from consumer.media.config import DecodeConfig
from consumer.media.http_source import HttpRangeReader
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.http_server import Route, Server, serve
from tests.unit.media.videos import make_video

PAD = ResizeSpec(32, "pad")


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record (and block) every outgoing connection the HTTP source attempts."""
    attempts: list[object] = []

    def refuse(*args: object) -> socket.socket:
        attempts.append(args)
        raise AssertionError(f"connection attempted: {args}")

    monkeypatch.setattr(http_source, "connect_socket", refuse)
    return attempts


def test_loopback_server_is_refused_by_default(server: Server, clip: Path,
                                               decode: DecodeConfig) -> None:
    server.routes["/clip.mp4"] = Route(clip.read_bytes())
    with pytest.raises(SourceRefused, match=r"127\.0\.0\.1") as err:
        extract_keyframes(server.url("/clip.mp4"), [PAD], decode, SourceSettings())
    assert err.value.reason == "source_refused"
    assert server.requests == []


def test_allowed_loopback_serves_the_same_keyframes_as_the_file(
    server: Server, clip: Path, decode: DecodeConfig, loopback: SourceSettings,
    local: SourceSettings,
) -> None:
    server.routes["/clip.mp4"] = Route(clip.read_bytes())
    over_http = extract_keyframes(server.url("/clip.mp4"), [PAD], decode, loopback)
    from_file = extract_keyframes(str(clip), [PAD], decode, local)
    assert over_http.pts_s == from_file.pts_s
    assert np.array_equal(over_http.frames[PAD], from_file.frames[PAD])
    assert over_http.probe.size_bytes == clip.stat().st_size
    assert all(header and header.startswith("bytes=") for _, header in server.requests)


def test_seek_sampling_reads_only_the_ranges_it_needs(server: Server, tmp_path: Path,
                                                      loopback: SourceSettings) -> None:
    path = make_video(tmp_path / "long.mp4", width=128, height=96, frames=600, rate=10,
                      gop=10, texture=True)
    server.routes["/long.mp4"] = Route(path.read_bytes())
    decode = decode_config(max_keyframes=3, min_interval_s=1.0, threads=1, mode="auto")
    source = loopback.model_copy(update={"range_chunk_bytes": 16 * 1024})
    result = extract_keyframes(server.url("/long.mp4"), [PAD], decode, source)
    assert len(result.pts_s) == 3
    assert server.bytes_sent < path.stat().st_size / 2


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://127.0.0.1/video.mp4",
    "http://10.0.0.1/video.mp4",
    "http://0x7f000001/video.mp4",
    "http://127.1/video.mp4",
    "http://2130706433/video.mp4",
    "http://0177.0.0.1/video.mp4",
    "http://[::ffff:127.0.0.1]/video.mp4",
    "http://[::1]:8080/video.mp4",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://[::7f00:1]/video.mp4",
    "http://[::ffff:0:7f00:1]/video.mp4",
    "http://[64:ff9b:1::7f00:1]/video.mp4",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "http://[2002:7f00:1::1]/video.mp4",
])
def test_internal_addresses_are_refused_before_connecting(
    url: str, decode: DecodeConfig, no_connect: list[object],
) -> None:
    with pytest.raises(SourceRefused):
        extract_keyframes(url, [PAD], decode, SourceSettings())
    assert no_connect == []


def test_a_name_resolving_to_a_private_address_is_refused(no_connect: list[object]) -> None:
    def resolver(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]

    with pytest.raises(SourceRefused, match=r"10\.1\.2\.3"):
        HttpRangeReader("https://videos.example/v.mp4", SourceSettings(), 10**6, resolver)
    assert no_connect == []


@pytest.mark.parametrize(("url", "settings"), [
    ("ftp://example.com/v.mp4", SourceSettings()),
    ("gopher://example.com/v.mp4", SourceSettings()),
    ("https://other.example/v.mp4", SourceSettings(allowed_hosts=["media.example"])),
    ("http://media.example/v.mp4", SourceSettings(allowed_schemes=["https"])),
])
def test_schemes_and_hosts_outside_the_allowlist_are_refused(
    url: str, settings: SourceSettings, decode: DecodeConfig, no_connect: list[object],
) -> None:
    with pytest.raises(SourceRefused):
        extract_keyframes(url, [PAD], decode, settings)
    assert no_connect == []


@pytest.mark.parametrize("target", [
    "http://127.0.0.2:{port}/clip.mp4",
    "http://0x7f000002:{port}/clip.mp4",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
])
def test_every_redirect_hop_is_checked_and_the_target_never_contacted(
    *, target: str, server: Server, canary: Server, clip: Path, decode: DecodeConfig,
    loopback: SourceSettings,
) -> None:
    canary.routes["/clip.mp4"] = Route(clip.read_bytes())
    server.routes["/go"] = Route(redirect=target.format(port=canary.port))
    with pytest.raises(SourceRefused):
        extract_keyframes(server.url("/go"), [PAD], decode, loopback)
    assert server.requests and canary.requests == []


def test_an_allowed_redirect_is_followed(server: Server, clip: Path, decode: DecodeConfig,
                                         loopback: SourceSettings) -> None:
    server.routes["/clip.mp4"] = Route(clip.read_bytes())
    server.routes["/go"] = Route(redirect="/clip.mp4")
    assert extract_keyframes(server.url("/go"), [PAD], decode, loopback).pts_s


def test_a_redirect_loop_stops_at_max_redirects(server: Server, decode: DecodeConfig,
                                                loopback: SourceSettings) -> None:
    server.routes["/a"] = Route(redirect="/b")
    server.routes["/b"] = Route(redirect="/a")
    with pytest.raises(SourceRefused, match="max_redirects"):
        extract_keyframes(server.url("/a"), [PAD], decode, loopback)
    assert len(server.requests) == loopback.max_redirects + 1


@pytest.mark.parametrize("route", [Route(b"x" * 5000, drip_s=0.01), Route(stall_s=3.0)],
                         ids=["slow-drip", "stalled"])
def test_a_slow_server_times_out(route: Route, server: Server, decode: DecodeConfig,
                                 loopback: SourceSettings) -> None:
    server.routes["/slow.mp4"] = route
    source = loopback.model_copy(update={"read_timeout_s": 0.5})
    with pytest.raises(SourceTimeout, match="read_timeout_s"):
        extract_keyframes(server.url("/slow.mp4"), [PAD], decode, source)


def test_a_byte_cap_below_the_size_is_refused_after_one_range(
    server: Server, tmp_path: Path, loopback: SourceSettings,
) -> None:
    path = make_video(tmp_path / "big.mp4", width=128, height=96, frames=100, texture=True)
    server.routes["/big.mp4"] = Route(path.read_bytes())
    size = path.stat().st_size
    decode = decode_config(max_bytes=size // 2)
    with pytest.raises(MediaTooLarge, match=r"decode\.max_bytes") as err:
        extract_keyframes(server.url("/big.mp4"), [PAD], decode, loopback)
    assert err.value.reason == "too_large"
    assert len(server.requests) == 1 and server.bytes_sent <= loopback.range_chunk_bytes


@pytest.mark.parametrize(("body", "error"), [
    (b"<!doctype html><html><head><title>Login</title></head><body></body></html>",
     UnsupportedContainer),
    (b"", UnsupportedContainer),
])
def test_non_video_bytes_served_as_video_mp4_are_refused(
    body: bytes, error: type[Exception], server: Server, decode: DecodeConfig,
    loopback: SourceSettings,
) -> None:
    server.routes["/v.mp4"] = Route(body, content_type="video/mp4")
    with pytest.raises(error):
        extract_keyframes(server.url("/v.mp4"), [PAD], decode, loopback)


def test_playlists_served_as_mp4_never_reach_the_urls_and_files_they_name(
    server: Server, canary: Server, clip: Path, decode: DecodeConfig,
    loopback: SourceSettings,
) -> None:
    canary.routes["/seg.mp4"] = Route(clip.read_bytes())
    seg = f"http://127.0.0.2:{canary.port}/seg.mp4"
    hls = f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{seg}\n#EXTINF:2,\n{clip}\n" \
          "#EXT-X-ENDLIST\n"
    concat = f"ffconcat version 1.0\nfile '{seg}'\nfile '{clip}'\n"
    server.routes["/hls.mp4"] = Route(hls.encode())
    server.routes["/concat.mp4"] = Route(concat.encode())
    # An mp4 header in front does not turn the playlist demuxer back on either.
    server.routes["/boxed.mp4"] = Route(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00"
                                        + hls.encode())
    for path, error in (("/hls.mp4", UnsupportedContainer),
                        ("/concat.mp4", UnsupportedContainer),
                        ("/boxed.mp4", CorruptMedia)):
        with pytest.raises(error):
            extract_keyframes(server.url(path), [PAD], decode, loopback)
    assert canary.requests == []


def test_error_statuses_and_servers_without_ranges_are_unreachable(
    server: Server, clip: Path, decode: DecodeConfig, loopback: SourceSettings,
) -> None:
    server.routes["/no-ranges.mp4"] = Route(clip.read_bytes(), ranges=False)
    with pytest.raises(SourceUnreachable, match="404"):
        extract_keyframes(server.url("/missing.mp4"), [PAD], decode, loopback)
    with pytest.raises(SourceUnreachable, match="range"):
        extract_keyframes(server.url("/no-ranges.mp4"), [PAD], decode, loopback)


def test_presigned_credentials_stay_out_of_error_messages(
    server: Server, decode: DecodeConfig, loopback: SourceSettings,
) -> None:
    url = server.url("/missing.mp4") + "?X-Amz-Signature=s3cr3t"
    with pytest.raises(SourceUnreachable) as err:
        extract_keyframes(url, [PAD], decode, loopback)
    assert "s3cr3t" not in str(err.value)


def test_a_closed_port_is_unreachable(decode: DecodeConfig,
                                      loopback: SourceSettings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceUnreachable):
        extract_keyframes(f"http://127.0.0.1:{port}/v.mp4", [PAD], decode, loopback)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """An HTTPS server on 127.0.0.1 with a fresh self-signed certificate (openssl CLI)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve(tls=context) as running:
        yield running, cert


def test_https_verifies_the_certificate_of_the_pinned_address(
    tls_server: tuple[Server, Path], clip: Path, decode: DecodeConfig,
    loopback: SourceSettings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, cert = tls_server
    server.routes["/clip.mp4"] = Route(clip.read_bytes())
    with pytest.raises(SourceUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        extract_keyframes(server.url("/clip.mp4"), [PAD], decode, loopback)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    assert extract_keyframes(server.url("/clip.mp4"), [PAD], decode, loopback).pts_s
