"""gs://, s3:// and friends go through fsspec: tested with its built-in memory filesystem."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest

from consumer.media import (
    MediaTooLarge,
    ResizeSpec,
    SourceRefused,
    SourceUnreachable,
    extract_keyframes,
)
from consumer.media.config import DecodeConfig
from consumer.media.sources import scheme_of
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config

PAD = ResizeSpec(32, "pad")
MEMORY = SourceSettings(allowed_schemes=["memory"])


@pytest.fixture
def stored_clip(clip: Path) -> Iterator[str]:
    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/clip.mp4", clip.read_bytes())
    yield "memory://bucket/clip.mp4"
    fs.rm("/bucket/clip.mp4")


def test_an_object_store_uri_yields_the_same_keyframes_as_the_file(
    stored_clip: str, clip: Path, decode: DecodeConfig, local: SourceSettings,
) -> None:
    remote = extract_keyframes(stored_clip, [PAD], decode, MEMORY)
    from_file = extract_keyframes(str(clip), [PAD], decode, local)
    assert remote.pts_s == from_file.pts_s
    assert np.array_equal(remote.frames[PAD], from_file.frames[PAD])
    assert remote.probe.size_bytes == clip.stat().st_size


def test_object_store_limits_and_errors(stored_clip: str, decode: DecodeConfig) -> None:
    with pytest.raises(MediaTooLarge):
        extract_keyframes(stored_clip, [PAD], decode_config(max_bytes=100), MEMORY)
    with pytest.raises(SourceUnreachable, match="does not exist"):
        extract_keyframes("memory://bucket/missing.mp4", [PAD], decode, MEMORY)
    with pytest.raises(SourceRefused, match="allowed_schemes"):
        extract_keyframes(stored_clip, [PAD], decode, SourceSettings())


@pytest.mark.parametrize(("uri", "extra"), [("gs://bucket/v.mp4", "gcs"),
                                            ("s3://bucket/v.mp4", "s3")])
def test_a_cloud_scheme_without_its_extra_says_what_to_install(
    uri: str, extra: str, decode: DecodeConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Whether or not the extra is installed (or already imported) here, the process runs as
    # if it were not: no module, and no filesystem class fsspec has cached.
    registry = importlib.import_module("fsspec.registry")._registry  # the module's own dict
    monkeypatch.setitem(sys.modules, {"gcs": "gcsfs", "s3": "s3fs"}[extra], None)
    for protocol in ("s3", "s3a", "gs", "gcs"):
        monkeypatch.delitem(registry, protocol, raising=False)
    with pytest.raises(SourceUnreachable, match=rf"\[{extra}\]"):
        extract_keyframes(uri, [PAD], decode, SourceSettings())


def test_scheme_of_treats_paths_as_files() -> None:
    assert scheme_of("/videos/a.mp4") == "file"
    assert scheme_of("C:\\videos\\a.mp4") == "file"
    assert scheme_of("file:///videos/a.mp4") == "file"
    assert scheme_of("HTTPS://example.com/a.mp4") == "https"
    assert scheme_of("gs://bucket/a.mp4") == "gs"
