"""Fixtures for media tests: generated clips, local HTTP servers, permissive-for-loopback
source settings (the default policy refuses 127.0.0.1, as tests of the refusal check)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer.media.config import DecodeConfig
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.http_server import Server, serve
from tests.unit.media.videos import make_video


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s, 10 fps, 64x48 H.264 in mp4, a keyframe every 0.5 s (frames 0, 5, 10, 15)."""
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4")


@pytest.fixture
def decode() -> DecodeConfig:
    """One sample per keyframe of the 2 s clips (a keyframe every 0.5 s): the coverage plan
    then takes every keyframe and nothing else; no minimum interval, one decoder thread."""
    return decode_config(max_keyframes=4, min_interval_s=0.0, threads=1)


@pytest.fixture
def local() -> SourceSettings:
    return SourceSettings(allowed_schemes=["file"])


@pytest.fixture
def loopback() -> SourceSettings:
    """HTTP to 127.0.0.1 explicitly allowed (what a test server needs), short timeouts."""
    return SourceSettings(allowed_networks=["127.0.0.1/32"], connect_timeout_s=2.0,
                          read_timeout_s=2.0, range_chunk_bytes=64 * 1024)


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


@pytest.fixture
def canary() -> Iterator[Server]:
    """A second server that no test may make the extractor contact (127.0.0.2)."""
    with serve("127.0.0.2") as running:
        yield running
