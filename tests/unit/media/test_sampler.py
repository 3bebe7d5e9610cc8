"""The sampler on real clips: decoding forward where keyframes are sparse, within budgets."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consumer.media import ResizeSpec, extract_keyframes
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.videos import frame_index_at, level, make_video

STRETCH = ResizeSpec(16, "stretch")
LOCAL = SourceSettings(allowed_schemes=["file"])


@pytest.fixture(scope="module")
def one_keyframe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s at 10 fps whose only keyframe is the first frame."""
    return make_video(tmp_path_factory.mktemp("one") / "one.mp4", frames=200, rate=10,
                      gop=1000, width=32, height=32)


def _greys(frames: np.ndarray) -> list[float]:
    return [float(f.reshape(-1, 3).mean()) for f in frames]


def test_targets_in_one_gop_are_decoded_in_one_forward_pass(one_keyframe: Path) -> None:
    import av

    from consumer.media.sampler import KeyframeSampler

    decode = decode_config(max_keyframes=8, min_interval_s=1.0, threads=1)
    with av.open(str(one_keyframe)) as container:
        stream = container.streams.video[0]
        sampler = KeyframeSampler(container, stream, 20.0, decode, 10.0)
        times = [sampler.frame_time(f) for f in sampler.scan()]
    assert len(times) == 8 and times[-1] > 17.0
    assert sampler.decoded_frames <= 200, "no frame is decoded twice"
    assert sampler.stopped_by is None


def test_a_decode_budget_stops_coverage_short_and_says_so(one_keyframe: Path) -> None:
    decode = decode_config(max_keyframes=8, min_interval_s=1.0, threads=1,
                            max_decoded_frames=60)
    result = extract_keyframes(str(one_keyframe), [STRETCH], decode, LOCAL)
    assert result.coverage is not None
    assert result.coverage.stopped_by == "decode_budget"
    assert not result.coverage.complete
    assert result.pts_s[-1] < 7.0, "nothing past the budget was analysed"
    assert _greys(result.frames[STRETCH]) == pytest.approx(
        [level(frame_index_at(t)) for t in result.pts_s], abs=6)


def test_seeking_gets_the_same_frames_as_scanning_where_keyframes_are_sparse(
    one_keyframe: Path,
) -> None:
    results = {mode: extract_keyframes(str(one_keyframe), [STRETCH], decode_config(
        max_keyframes=8, min_interval_s=1.0, threads=1, mode=mode), LOCAL)
        for mode in ("scan", "seek")}
    assert results["seek"].pts_s == results["scan"].pts_s
    assert np.array_equal(results["seek"].frames[STRETCH], results["scan"].frames[STRETCH])
    assert results["seek"].coverage == results["scan"].coverage


def test_frame_threads_give_the_same_frames(one_keyframe: Path) -> None:
    single, threaded = (extract_keyframes(str(one_keyframe), [STRETCH], decode_config(
        max_keyframes=8, min_interval_s=1.0, threads=threads), LOCAL) for threads in (1, 2))
    assert single.pts_s == threaded.pts_s
    assert np.array_equal(single.frames[STRETCH], threaded.frames[STRETCH])


def _hidden_in_the_middle(path: Path, *, suffix_frames: int = 300) -> Path:
    """An evasion clip: 30 s at 10 fps, one keyframe at t=0, grey everywhere except a red
    square shown only from 13.3 s to 16.5 s: longer than the largest gap the coverage
    guarantee allows (1.5 x 30 / 16 = 2.8 s), never seen by a keyframe-only sampler."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.codec_context.options = {"x264-params": "keyint=9999:min-keyint=9999:scenecut=0"}
        for i in range(suffix_frames):
            image = np.full((64, 64, 3), 90, np.uint8)
            if 133 <= i < 165:
                image[16:48, 16:48] = (230, 20, 20)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


@pytest.mark.parametrize("mode", ["scan", "seek"])
def test_content_hidden_in_the_middle_of_a_one_keyframe_upload_is_seen(
    tmp_path: Path, mode: str,
) -> None:
    """Checked on the pixels: some analysed frame shows the red square."""
    path = _hidden_in_the_middle(tmp_path / "evasion.mp4")
    from tests.unit.media.videos import keyframe_times

    assert keyframe_times(path) == [0.0]
    decode = decode_config(threads=1, mode=mode)  # the service's defaults: 16 samples
    result = extract_keyframes(str(path), [STRETCH], decode, LOCAL)
    red = [t for t, f in zip(result.pts_s, result.frames[STRETCH], strict=True)
           if f[4:12, 4:12, 0].mean() > 180 and f[4:12, 4:12, 1].mean() < 80]
    assert red and all(13.3 <= t < 16.5 for t in red), result.pts_s
    assert result.coverage is not None and result.coverage.complete
    assert result.coverage.largest_gap_s <= 1.5 * 30 / 16


class _Pipe(io.RawIOBase):
    """A write-only, non-seekable sink: the muxer cannot go back to write a duration."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, chunk: Any) -> int:
        self.data += bytes(chunk)
        return len(chunk)


def test_a_live_written_webm_without_a_duration_is_covered_over_its_real_length(
    tmp_path: Path,
) -> None:
    """Browser recordings (MediaRecorder) carry no duration: the stream's end is measured."""
    import av

    pipe = _Pipe()
    with av.open(pipe, "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.options = {"x264-params": "keyint=1000:min-keyint=1000:scenecut=0"}
        for i in range(200):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), level(i), np.uint8),
                                               format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    path = tmp_path / "live.mkv"
    path.write_bytes(bytes(pipe.data))
    with av.open(str(path)) as container:
        assert container.duration is None and container.streams.video[0].duration is None
    decode = decode_config(max_keyframes=8, min_interval_s=1.0, threads=1)
    result = extract_keyframes(str(path), [STRETCH], decode, LOCAL)
    assert result.probe.duration_s == pytest.approx(20.0, abs=0.2)
    assert len(result.pts_s) == 8 and result.pts_s[-1] > 17.0
    assert result.coverage is not None and result.coverage.complete
    assert _greys(result.frames[STRETCH]) == pytest.approx(
        [level(frame_index_at(t)) for t in result.pts_s], abs=6)
