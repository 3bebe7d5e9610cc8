"""extract_keyframes on generated media: codecs, containers, odd geometry, hostile bytes."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import pytest

from consumer.errors import MediaError
from consumer.media import (
    CorruptMedia,
    DecodeOutOfMemory,
    FrameTooLarge,
    MediaTooLarge,
    MediaTooLong,
    NoVideoStream,
    ResizeSpec,
    SourceRefused,
    SourceUnreachable,
    TooManyStreams,
    UnsupportedContainer,
    extract_keyframes,
)
from consumer.media.config import DecodeConfig
from consumer.media.extract import Keyframes
from consumer.media.sampler import KeyframeSampler
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.videos import (
    frame_index_at,
    keyframe_times,
    level,
    make_audio_only,
    make_video,
)

PAD = ResizeSpec(32, "pad")
STRETCH = ResizeSpec(16, "stretch")

CODECS = [  # (encoder, container suffix, codec name the probe reports)
    ("libx264", "mp4", "h264"),
    ("libx264", "mkv", "h264"),
    ("libx265", "mp4", "hevc"),
    ("libvpx-vp9", "webm", "vp9"),
    ("libsvtav1", "mkv", "av1"),
    ("mpeg4", "mov", "mpeg4"),
]


def _grey(frame: np.ndarray) -> float:
    return float(frame.reshape(-1, 3).mean())


def _every_keyframe(path: Path) -> DecodeConfig:
    """One sample per keyframe: with regular keyframes the plan takes each of them."""
    return decode_config(max_keyframes=len(keyframe_times(path)), min_interval_s=0.0,
                          threads=1)


def _assert_each_frame_is_the_one_at_its_time(result: Keyframes, spec: ResizeSpec,
                                              times_ms: list[int] | None = None) -> None:
    """The pixels prove which frame was analysed: frame i is grey level(i)."""
    for time_s, frame in zip(result.pts_s, result.frames[spec], strict=True):
        index = frame_index_at(time_s) if times_ms is None else \
            times_ms.index(round(time_s * 1000))
        assert _grey(frame) == pytest.approx(level(index), abs=6), f"frame at {time_s}s"


@pytest.mark.parametrize(("encoder", "suffix", "codec"), CODECS,
                         ids=[f"{e}-{s}" for e, s, _ in CODECS])
def test_every_keyframe_is_returned_with_its_time_and_its_own_pixels(
    *, tmp_path: Path, decode: DecodeConfig, local: SourceSettings,
    encoder: str, suffix: str, codec: str,
) -> None:
    if encoder not in av.codecs_available:
        pytest.skip(f"this PyAV wheel has no {encoder} encoder")
    path = make_video(tmp_path / f"v.{suffix}", codec=encoder, width=64, height=64)
    result = extract_keyframes(str(path), [PAD, STRETCH], _every_keyframe(path), local)
    keys = keyframe_times(path)
    if len(set(np.round(np.diff(keys), 3))) == 1:  # regular (x265 adds one at 0.1 s)
        assert result.pts_s == pytest.approx(keys)
    assert result.coverage is not None and result.coverage.complete
    assert len(result.pts_s) >= 2
    assert result.probe.codec == codec
    assert result.probe.duration_s == pytest.approx(2.0, abs=0.15)
    assert (result.probe.width, result.probe.height) == (64, 64)
    for spec, size in ((PAD, 32), (STRETCH, 16)):
        frames = result.frames[spec]
        assert frames.shape == (len(result.pts_s), size, size, 3)
        assert frames.dtype == np.uint8
        for time_s, frame in zip(result.pts_s, frames, strict=True):
            assert _grey(frame) == pytest.approx(level(frame_index_at(time_s)), abs=6)


@pytest.mark.parametrize(("suffix", "name"), [("mp4", "mp4"), ("mov", "mov"),
                                               ("mkv", "matroska"), ("webm", "webm")])
def test_probe_names_the_container(tmp_path: Path, decode: DecodeConfig,
                                   local: SourceSettings, suffix: str, name: str) -> None:
    codec = "libvpx-vp9" if suffix == "webm" else "libx264"
    path = make_video(tmp_path / f"v.{suffix}", codec=codec)
    assert extract_keyframes(str(path), [PAD], decode, local).probe.container == name


def test_probe_reports_fps_bit_rate_size_and_audio(tmp_path: Path, decode: DecodeConfig,
                                                   local: SourceSettings) -> None:
    path = make_video(tmp_path / "a.mp4", audio=True)
    probe = extract_keyframes(str(path), [PAD], decode, local).probe
    assert probe.has_audio
    assert probe.fps == pytest.approx(10.0)
    assert probe.size_bytes == path.stat().st_size
    assert probe.bit_rate is not None and probe.bit_rate > 0


def test_video_without_audio_reports_no_audio(clip: Path, decode: DecodeConfig,
                                             local: SourceSettings) -> None:
    assert not extract_keyframes(str(clip), [PAD], decode, local).probe.has_audio


def test_audio_only_file_is_no_video_stream(tmp_path: Path, decode: DecodeConfig,
                                            local: SourceSettings) -> None:
    path = make_audio_only(tmp_path / "a.mp4")
    with pytest.raises(NoVideoStream) as err:
        extract_keyframes(str(path), [PAD], decode, local)
    assert err.value.reason == "no_video"


@pytest.mark.parametrize(("width", "height", "pix_fmt"),
                         [(2, 2, "yuv420p"), (4098, 18, "yuv420p"), (17, 9, "yuv444p")])
def test_odd_frame_sizes_are_padded_at_bottom_right(
    *, tmp_path: Path, decode: DecodeConfig, local: SourceSettings,
    width: int, height: int, pix_fmt: str,
) -> None:
    path = make_video(tmp_path / "odd.mp4", width=width, height=height, pix_fmt=pix_fmt,
                      frames=5)
    result = extract_keyframes(str(path), [PAD, STRETCH], decode, local)
    padded = result.frames[PAD][0]
    rows = max(1, round(height * 32 / max(width, height)))
    cols = max(1, round(width * 32 / max(width, height)))
    assert _grey(padded[:rows, :cols]) == pytest.approx(level(0), abs=8)
    assert not padded[rows:].any() and not padded[:, cols:].any()
    assert _grey(result.frames[STRETCH][0]) == pytest.approx(level(0), abs=8)


@pytest.mark.parametrize(("rotation", "corner"), [(90, "bottom-left"), (-90, "top-right"),
                                                  (180, "bottom-right"), (0, "top-left")])
def test_rotation_metadata_turns_frames_upright(tmp_path: Path, decode: DecodeConfig,
                                                local: SourceSettings, rotation: int,
                                                corner: str) -> None:
    # The red marker sits in the top-left quarter of a 64x32 picture.
    path = make_video(tmp_path / "r.mp4", width=64, height=32, rotation=rotation,
                      marker=True, frames=5)
    result = extract_keyframes(str(path), [ResizeSpec(32, "stretch")], decode, local)
    assert result.probe.rotation == rotation % 360
    red = result.frames[ResizeSpec(32, "stretch")][0][..., 0] > 200
    red &= result.frames[ResizeSpec(32, "stretch")][0][..., 1] < 80
    rows, cols = np.nonzero(red)
    found = ("top" if rows.mean() < 16 else "bottom") + "-" + \
            ("left" if cols.mean() < 16 else "right")
    assert found == corner


def test_variable_frame_rate_times_are_the_real_keyframe_times(
    tmp_path: Path, decode: DecodeConfig, local: SourceSettings,
) -> None:
    pts_ms = [0, 40, 300, 310, 700, 1500, 1510, 2000, 2600, 2700]
    path = make_video(tmp_path / "vfr.mkv", pts=pts_ms, frames=len(pts_ms), gop=3)
    assert keyframe_times(path) == pytest.approx([0.0, 0.31, 1.51, 2.7])
    result = extract_keyframes(str(path), [STRETCH], decode_config(
        max_keyframes=8, min_interval_s=0.0, threads=1), local)
    assert {0.31, 1.51} <= set(result.pts_s)
    assert {round(t * 1000) for t in result.pts_s} <= set(pts_ms), "real frame times only"
    assert result.coverage is not None and result.coverage.complete
    _assert_each_frame_is_the_one_at_its_time(result, STRETCH, pts_ms)


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_a_single_keyframe_clip_is_analysed_over_its_whole_length(
    tmp_path: Path, local: SourceSettings, suffix: str,
) -> None:
    path = make_video(tmp_path / f"one.{suffix}", frames=200, rate=10, gop=1000)
    assert keyframe_times(path) == [0.0]
    decode = decode_config(max_keyframes=8, min_interval_s=1.0, threads=1)
    result = extract_keyframes(str(path), [STRETCH], decode, local)
    assert len(result.pts_s) == 8
    assert result.pts_s[0] == 0.0 and result.pts_s[-1] > 17.0
    _assert_each_frame_is_the_one_at_its_time(result, STRETCH)
    assert result.coverage is not None and result.coverage.complete
    assert result.coverage.largest_gap_s <= 1.5 * 20 / 8


def test_long_gop_uses_each_keyframe_and_decodes_between(
    tmp_path: Path, local: SourceSettings,
) -> None:
    path = make_video(tmp_path / "long.mp4", width=16, height=16, frames=250, rate=10, gop=100)
    decode = decode_config(max_keyframes=16, min_interval_s=1.0, threads=1)
    result = extract_keyframes(str(path), [STRETCH], decode, local)
    assert {0.0, 10.0, 20.0} <= set(result.pts_s)
    assert len(result.pts_s) == 16
    _assert_each_frame_is_the_one_at_its_time(result, STRETCH)
    assert result.coverage is not None and result.coverage.complete


def test_samples_are_capped_and_spread_over_the_whole_duration(
    tmp_path: Path, local: SourceSettings,
) -> None:
    path = make_video(tmp_path / "many.mp4", width=16, height=16, frames=200, rate=10, gop=5)
    decode = decode_config(max_keyframes=4, min_interval_s=1.0, threads=1)
    result = extract_keyframes(str(path), [PAD], decode, local)
    assert len(result.pts_s) == 4
    assert result.pts_s[0] < 5.0 and result.pts_s[-1] > 15.0
    gaps = np.diff(result.pts_s)
    assert gaps.min() >= 1.0 and gaps.max() - gaps.min() <= 0.5


def test_seek_sampling_picks_the_same_keyframes_as_scanning(
    tmp_path: Path, local: SourceSettings,
) -> None:
    path = make_video(tmp_path / "s.mp4", width=16, height=16, frames=200, rate=10, gop=7)
    results = {
        mode: extract_keyframes(str(path), [PAD], decode_config(
            max_keyframes=6, min_interval_s=1.0, threads=1, mode=mode), local)
        for mode in ("scan", "seek")
    }
    assert results["seek"].pts_s == results["scan"].pts_s
    assert np.array_equal(results["seek"].frames[PAD], results["scan"].frames[PAD])


def test_truncated_mp4_without_its_index_is_corrupt(clip: Path, tmp_path: Path,
                                                    decode: DecodeConfig,
                                                    local: SourceSettings) -> None:
    data = clip.read_bytes()  # libx264 in mp4 writes the index (moov) last
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMedia) as err:
        extract_keyframes(str(path), [PAD], decode, local)
    assert err.value.reason == "corrupt"


def test_truncated_matroska_yields_the_keyframes_before_the_cut(
    tmp_path: Path, decode: DecodeConfig, local: SourceSettings,
) -> None:
    # 20 s: several matroska clusters, so the cut leaves whole ones before it.
    whole = make_video(tmp_path / "whole.mkv", width=16, height=16, frames=200, gop=5)
    data = whole.read_bytes()
    path = tmp_path / "cut.mkv"
    path.write_bytes(data[: len(data) // 2])
    result = extract_keyframes(str(path), [PAD], _every_keyframe(whole), local)
    assert 1 <= len(result.pts_s) < len(keyframe_times(whole))
    assert result.pts_s == keyframe_times(whole)[: len(result.pts_s)]
    assert result.coverage is not None and not result.coverage.complete, \
        "the half that was cut off was not seen, and the coverage says so"


@pytest.mark.parametrize(("name", "payload", "error"), [
    ("zero bytes", b"", UnsupportedContainer),
    ("random bytes", bytes(np.random.default_rng(1).integers(0, 256, 50_000, np.uint8)),
     UnsupportedContainer),
    ("html page", b"<!doctype html><html><body>not a video</body></html>",
     UnsupportedContainer),
    ("mp4 header then noise",
     b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
     + bytes(np.random.default_rng(2).integers(0, 256, 50_000, np.uint8)), CorruptMedia),
    ("mkv magic then noise",
     b"\x1a\x45\xdf\xa3" + bytes(np.random.default_rng(3).integers(0, 256, 50_000, np.uint8)),
     CorruptMedia),
])
def test_garbage_is_a_typed_media_error(*, tmp_path: Path, decode: DecodeConfig,
                                        local: SourceSettings, name: str, payload: bytes,
                                        error: type[MediaError]) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(payload)
    with pytest.raises(error):
        extract_keyframes(str(path), [PAD], decode, local)


def test_playlists_disguised_as_mp4_are_refused_without_touching_what_they_name(
    tmp_path: Path, decode: DecodeConfig, local: SourceSettings, clip: Path,
) -> None:
    hls = tmp_path / "hls.mp4"
    hls.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{clip}\n#EXT-X-ENDLIST\n")
    concat = tmp_path / "concat.mp4"
    concat.write_text(f"ffconcat version 1.0\nfile '{clip}'\n")
    for path in (hls, concat):
        with pytest.raises(UnsupportedContainer):
            extract_keyframes(str(path), [PAD], decode, local)


def test_limits_name_the_setting_they_enforce(clip: Path, tmp_path: Path,
                                              local: SourceSettings) -> None:
    cases = [
        (decode_config(max_bytes=100), MediaTooLarge, "decode.max_bytes"),
        (decode_config(max_duration_s=1.0), MediaTooLong, "decode.max_duration_s"),
        (decode_config(max_pixels=64 * 47), FrameTooLarge, "decode.max_pixels"),
    ]
    for settings, error, name in cases:
        with pytest.raises(error, match=name.replace(".", r"\.")):
            extract_keyframes(str(clip), [PAD], settings, local)
    with_audio = make_video(tmp_path / "a.mp4", audio=True)
    with pytest.raises(TooManyStreams, match=r"decode\.max_streams"):
        extract_keyframes(str(with_audio), [PAD], decode_config(max_streams=1), local)


def test_local_files_need_the_file_scheme_allowed(clip: Path, decode: DecodeConfig) -> None:
    with pytest.raises(SourceRefused, match="file"):
        extract_keyframes(str(clip), [PAD], decode, SourceSettings())
    with pytest.raises(SourceRefused):
        extract_keyframes(f"file://{clip}", [PAD], decode, SourceSettings())


def test_file_uri_and_missing_and_special_files(clip: Path, decode: DecodeConfig,
                                                local: SourceSettings) -> None:
    assert extract_keyframes(f"file://{clip}", [PAD], decode, local).pts_s
    with pytest.raises(SourceUnreachable):
        extract_keyframes(str(clip) + ".missing", [PAD], decode, local)
    with pytest.raises(SourceRefused, match="regular file"):
        extract_keyframes("/dev/zero", [PAD], decode, local)


def test_duplicate_specs_are_resized_once(clip: Path, decode: DecodeConfig,
                                          local: SourceSettings) -> None:
    result = extract_keyframes(str(clip), [PAD, PAD], decode, local)
    assert list(result.frames) == [PAD]


AVERROR_INVALIDDATA = -0x41444E49  # FFERRTAG('I','N','D','A')


def _ffmpeg_error(code: int) -> Exception:
    """The exception PyAV raises for an FFmpeg return code."""
    try:
        av.error.err_check(code, "avcodec_send_packet()")
    except av.FFmpegError as exc:
        return exc
    raise AssertionError(f"{code} is not an error")


@pytest.mark.parametrize(("code", "error"), [
    (-errno.EAGAIN, DecodeOutOfMemory),  # pthread_create under RLIMIT_AS: no frame thread
    (-errno.ENOMEM, DecodeOutOfMemory),
    (AVERROR_INVALIDDATA, CorruptMedia),
], ids=["EAGAIN", "ENOMEM", "INVALIDDATA"])
def test_a_decoder_out_of_memory_is_decode_oom_and_bad_data_is_corrupt(
    *, clip: Path, local: SourceSettings, monkeypatch: pytest.MonkeyPatch, code: int,
    error: type[MediaError],
) -> None:
    def fail(*args: Any) -> Any:
        raise _ffmpeg_error(code)

    monkeypatch.setattr(KeyframeSampler, "_send", fail)
    decode = decode_config(memory_limit_mb=300, threads=2, min_interval_s=0.0)
    with pytest.raises(error) as err:
        extract_keyframes(str(clip), [PAD], decode, local)
    if error is DecodeOutOfMemory:
        assert err.value.reason == "decode_oom"
        assert "decode.memory_limit_mb=300" in str(err.value)
        assert f"[Errno {-code}]" in str(err.value)


def test_a_container_that_cannot_open_for_lack_of_memory_is_decode_oom(
    clip: Path, decode: DecodeConfig, local: SourceSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise _ffmpeg_error(-errno.ENOMEM)

    monkeypatch.setattr(av, "open", fail)
    with pytest.raises(DecodeOutOfMemory, match=r"decode\.memory_limit_mb"):
        extract_keyframes(str(clip), [PAD], decode, local)
