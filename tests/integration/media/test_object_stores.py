"""Videos read through `s3://` (s3proxy) and `gs://` (fake-gcs-server), real servers on
loopback: the same keyframes as from the file, range reads only, and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consumer.media import ResizeSpec, SourceRefused, SourceUnreachable, extract_keyframes
from consumer.settings import SourceSettings
from devstack.samples import make_video
from tests.integration.media.conftest import S3Store
from tests.unit.media.configs import decode_config

SPEC = ResizeSpec(64, "stretch")
DECODE = decode_config(max_keyframes=4, threads=1)


def _s3_source(store: S3Store, **extra: object) -> SourceSettings:
    return SourceSettings(allowed_schemes=["s3"], s3_endpoint_url=store.endpoint,
                          allowed_networks=["127.0.0.1/32"], **extra)  # type: ignore[arg-type]


def _gcs_source(endpoint: str) -> SourceSettings:
    return SourceSettings(allowed_schemes=["gs"], gcs_endpoint_url=endpoint, gcs_token="anon",
                          allowed_networks=["127.0.0.1/32"])


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=6, width=320,
                      height=240)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "long.mp4", seconds=60, width=640,
                      height=360)


def _bucket(fs: Any, name: str) -> None:
    """Create a bucket (s3fs's mkdir trusts a HEAD that s3proxy answers for any name)."""
    if fs.protocol[0] == "s3":
        if name not in fs.ls(""):
            fs.call_s3("create_bucket", Bucket=name)
    elif not fs.exists(name):
        fs.mkdir(name)
    fs.invalidate_cache()


def _same_keyframes(remote: object, local: object) -> None:
    assert remote.pts_s == local.pts_s  # type: ignore[attr-defined]
    assert np.array_equal(remote.frames[SPEC], local.frames[SPEC])  # type: ignore[attr-defined]


def _stored_reads_like_the_file(scheme: str, bucket: str, source: SourceSettings,
                                clip: Path) -> None:
    """Upload the clip, then its keyframes through the store equal those of the file."""
    from consumer.media.object_stores import filesystem

    fs = filesystem(scheme, source)
    _bucket(fs, bucket)
    fs.put_file(str(clip), f"{bucket}/clip.mp4")
    remote = extract_keyframes(f"{scheme}://{bucket}/clip.mp4", [SPEC], DECODE, source)
    _same_keyframes(remote, extract_keyframes(str(clip), [SPEC], DECODE,
                                              SourceSettings(allowed_schemes=["file"])))
    assert remote.probe.size_bytes == clip.stat().st_size


def test_s3_gives_the_keyframes_of_the_file(aws_env: S3Store, clip: Path) -> None:
    _stored_reads_like_the_file("s3", "videos", _s3_source(aws_env), clip)


def test_s3_seek_sampling_reads_only_ranges_of_a_large_file(
    aws_env: S3Store, long_clip: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import s3fs.core

    source = _s3_source(aws_env)
    from consumer.media.object_stores import filesystem

    fs = filesystem("s3", source)
    _bucket(fs, "large")
    fs.put_file(str(long_clip), "large/long.mp4")
    fetched: list[int] = []
    real = s3fs.core.S3File._fetch_range

    def counting(self: object, start: int, end: int) -> bytes:
        fetched.append(end - start)
        return real(self, start, end)  # type: ignore[no-any-return]

    monkeypatch.setattr(s3fs.core.S3File, "_fetch_range", counting)
    decode = decode_config(max_keyframes=4, threads=1, mode="seek", min_interval_s=0.0)
    remote = extract_keyframes("s3://large/long.mp4", [SPEC], decode,
                               _s3_source(aws_env, range_chunk_bytes=64 * 1024))
    size = long_clip.stat().st_size
    assert len(remote.pts_s) >= 4 and len(fetched) > 1
    assert sum(fetched) < size / 2, f"read {sum(fetched)} of {size} bytes"
    print(f"\n[s3] seek-sampled {len(remote.pts_s)} frames of a {size} byte file with "
          f"{len(fetched)} range reads, {sum(fetched)} bytes")


def test_s3_missing_object_is_unreachable(aws_env: S3Store) -> None:
    with pytest.raises(SourceUnreachable, match="does not exist"):
        extract_keyframes("s3://videos/missing.mp4", [SPEC], DECODE, _s3_source(aws_env))


def test_s3_wrong_credentials_say_so_and_never_print_the_secret(
    aws_env: S3Store, clip: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import s3fs

    wrong = "not-the-secret-" + aws_env.secret_key[::-1]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    s3fs.S3FileSystem.clear_instance_cache()  # credentials are read when a client is made
    with pytest.raises(SourceUnreachable) as caught:
        extract_keyframes("s3://videos/clip.mp4", [SPEC], DECODE, _s3_source(aws_env))
    text = f"{caught.value} {caught.value.__cause__!r}"
    assert "access denied" in str(caught.value) or "cannot open" in str(caught.value)
    assert wrong not in text and aws_env.secret_key not in text


def test_s3_endpoint_on_loopback_is_refused_unless_the_policy_allows_it(
    aws_env: S3Store,
) -> None:
    source = SourceSettings(allowed_schemes=["s3"], s3_endpoint_url=aws_env.endpoint)
    with pytest.raises(SourceRefused, match="allowed_networks"):
        extract_keyframes("s3://videos/clip.mp4", [SPEC], DECODE, source)


def test_gcs_gives_the_keyframes_of_the_file(gcs_store: str, clip: Path) -> None:
    _stored_reads_like_the_file("gs", "gcs-videos", _gcs_source(gcs_store), clip)


def test_gcs_missing_object_is_unreachable(gcs_store: str) -> None:
    with pytest.raises(SourceUnreachable, match="does not exist"):
        extract_keyframes("gs://gcs-videos/missing.mp4", [SPEC], DECODE,
                          _gcs_source(gcs_store))
