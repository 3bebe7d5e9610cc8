"""The isolated worker pool: crashes, hangs and memory blow-ups fail one video only; frames
come back through shared memory sized by what was decoded; the queue is bounded; closing
does not wait for a running video."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consumer.media import (
    DecodeCrashed,
    DecodeFailed,
    DecodeOutOfMemory,
    DecodeTimeout,
    ExtractorClosed,
    ExtractorQueueFull,
    KeyframeExtractor,
    ResizeSpec,
    UnsupportedContainer,
    extract_keyframes,
    frame_segments,
)
from consumer.media.config import DecodeConfig
from consumer.media.frame_segments import segment_prefix
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.hooks import misbehaving_task
from tests.unit.media.videos import make_video

PAD = ResizeSpec(32, "pad")
STRETCH = ResizeSpec(48, "stretch")
LOCAL = SourceSettings(allowed_schemes=["file"])


def _shm_segments() -> set[str]:
    """This process's frame segments still in /dev/shm (other processes share the folder)."""
    if not os.path.isdir("/dev/shm"):
        return set()
    return {name for name in os.listdir("/dev/shm") if name.startswith(segment_prefix())}


@pytest.fixture(scope="module")
def pool() -> Iterator[KeyframeExtractor]:
    """One worker, so a video after a failure runs on the replacement of the failed one."""
    decode = decode_config(count=1, timeout_s=3.0, memory_limit_mb=1024,
                            max_keyframes=4, min_interval_s=0.0, threads=1)
    with KeyframeExtractor(decode, LOCAL, task=misbehaving_task) as extractor:
        yield extractor


def test_frames_from_a_worker_equal_an_in_process_extraction(
    pool: KeyframeExtractor, clip: Path, decode: DecodeConfig,
) -> None:
    before = _shm_segments()
    result = pool.submit(str(clip), [PAD, STRETCH]).result(timeout=30)
    expected = extract_keyframes(str(clip), [PAD, STRETCH], decode, LOCAL)
    assert result.pts_s == expected.pts_s
    assert result.probe == expected.probe
    for spec in (PAD, STRETCH):
        assert np.array_equal(result.frames[spec], expected.frames[spec])
    assert _shm_segments() == before == set()  # every segment was unlinked


def test_a_media_error_in_a_worker_reaches_the_caller_typed(pool: KeyframeExtractor,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(b"not a video")
    with pytest.raises(UnsupportedContainer):
        pool.submit(str(path), [PAD]).result(timeout=30)


@pytest.mark.parametrize(("hook", "error", "words"), [
    ("hook:segv", DecodeCrashed, "SIGSEGV"),
    ("hook:hang", DecodeTimeout, "decode.timeout_s"),
    ("hook:oom", DecodeOutOfMemory, "decode.memory_limit_mb"),
    ("hook:segv-in-copy", DecodeCrashed, "SIGSEGV"),
    ("hook:hang-in-copy", DecodeTimeout, "decode.timeout_s"),
    ("hook:bad-frames", DecodeFailed, "ValueError"),
])
def test_a_failing_worker_fails_only_its_video_and_the_next_one_succeeds(
    pool: KeyframeExtractor, clip: Path, hook: str, error: type[Exception], words: str,
) -> None:
    before = _shm_segments()
    failing = pool.submit(hook, [PAD])
    following = pool.submit(str(clip), [PAD])
    with pytest.raises(error, match=words):
        failing.result(timeout=30)
    assert len(following.result(timeout=30).pts_s) == 4
    assert _shm_segments() == before == set()


def test_a_full_queue_is_an_error_not_unbounded_growth(clip: Path) -> None:
    decode = decode_config(count=1, queue_size=1, timeout_s=1.0, threads=1)
    with KeyframeExtractor(decode, LOCAL, task=misbehaving_task) as extractor:
        running = extractor.submit("hook:hang", [PAD])
        deadline = time.monotonic() + 10
        while extractor.pending and time.monotonic() < deadline:
            time.sleep(0.01)  # wait until the worker took the hanging video
        waiting = extractor.submit(str(clip), [PAD])
        with pytest.raises(ExtractorQueueFull, match="queue_size"):
            extractor.submit(str(clip), [PAD])
        with pytest.raises(DecodeTimeout):
            running.result(timeout=30)
        assert waiting.result(timeout=30).pts_s


def test_close_fails_waiting_videos_and_refuses_new_ones(clip: Path) -> None:
    decode = decode_config(count=1, queue_size=4, timeout_s=1.0, threads=1)
    extractor = KeyframeExtractor(decode, LOCAL, task=misbehaving_task)
    running = extractor.submit("hook:hang", [PAD])
    deadline = time.monotonic() + 10
    while extractor.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    waiting = extractor.submit(str(clip), [PAD])
    extractor.close()
    with pytest.raises(ExtractorClosed, match="before this video ran"):
        waiting.result(timeout=1)
    with pytest.raises(ExtractorClosed, match="while this video ran"):
        running.result(timeout=1)
    with pytest.raises(ExtractorClosed):
        extractor.submit(str(clip), [PAD])


def test_close_kills_a_running_video_instead_of_waiting_for_it(tmp_path: Path) -> None:
    decode = decode_config(count=2, timeout_s=60.0, threads=1)
    extractor = KeyframeExtractor(decode, LOCAL, task=misbehaving_task)
    marks = [tmp_path / "first", tmp_path / "second"]
    running = [extractor.submit(f"hook:started:{mark}", [PAD]) for mark in marks]
    deadline = time.monotonic() + 10
    while not all(mark.exists() for mark in marks) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(mark.exists() for mark in marks), "both videos are running"
    started = time.monotonic()
    extractor.close()
    assert time.monotonic() - started < 3.0
    for future in running:
        with pytest.raises(ExtractorClosed, match="while this video ran"):
            future.result(timeout=0)
    assert _shm_segments() == set()


def test_a_large_max_keyframes_shares_only_the_frames_decoded(
    clip: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []
    create = frame_segments.create_segment

    def recording(nbytes: int) -> Any:
        sizes.append(nbytes)
        return create(nbytes)

    monkeypatch.setattr(frame_segments, "create_segment", recording)
    many = decode_config(count=1, max_keyframes=100_000, min_interval_s=0.0, threads=1)
    with KeyframeExtractor(many, LOCAL, task=misbehaving_task) as extractor:
        result = extractor.submit(str(clip), [PAD, STRETCH]).result(timeout=30)
    expected = extract_keyframes(str(clip), [PAD, STRETCH], many, LOCAL)
    assert result.pts_s == expected.pts_s and len(result.pts_s) == 20  # every frame
    for spec in (PAD, STRETCH):
        assert np.array_equal(result.frames[spec], expected.frames[spec])
    assert sizes == [20 * (32 * 32 * 3 + 48 * 48 * 3)]
    assert _shm_segments() == set()


@pytest.mark.parametrize("failure", ["create", "allocate"])
def test_a_segment_that_cannot_be_made_is_out_of_memory_and_the_worker_lives_on(
    pool: KeyframeExtractor, clip: Path, monkeypatch: pytest.MonkeyPatch, failure: str,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    if failure == "create":
        monkeypatch.setattr(frame_segments, "SharedMemory", refuse)
    else:
        monkeypatch.setattr(frame_segments.os, "posix_fallocate", refuse)
    restarts = pool.restarts
    with pytest.raises(DecodeOutOfMemory, match=f"{4 * 32 * 32 * 3} bytes"):
        pool.submit(str(clip), [PAD]).result(timeout=30)
    monkeypatch.undo()
    assert len(pool.submit(str(clip), [PAD]).result(timeout=30).pts_s) == 4
    assert pool.restarts == restarts, "the worker dropped the frames and served the next video"
    assert _shm_segments() == set()


class _CleanupFails(frame_segments.SharedMemory):
    """Closes and unlinks for real, then raises, as a segment the worker's failed mapping
    already unlinked (FileNotFoundError) or an unexpected failure would."""

    error: type[OSError] = OSError

    def close(self) -> None:
        closed = self._mmap is None  # type: ignore[attr-defined]
        super().close()
        if not closed:  # once: __del__ closes again
            raise BufferError("injected: cannot close")

    def unlink(self) -> None:
        super().unlink()
        raise self.error("injected: cannot unlink")


@pytest.mark.parametrize("cleanup_error", [FileNotFoundError, PermissionError])
@pytest.mark.parametrize(("uri", "error"), [
    ("clip", None),
    ("hook:bad-frames", DecodeFailed),
    ("hook:segv-in-copy", DecodeCrashed),
])
def test_a_failing_cleanup_never_replaces_the_outcome_of_the_video(
    *, pool: KeyframeExtractor, clip: Path, monkeypatch: pytest.MonkeyPatch,
    cleanup_error: type[OSError], uri: str, error: type[Exception] | None,
) -> None:
    monkeypatch.setattr(_CleanupFails, "error", cleanup_error)
    monkeypatch.setattr(frame_segments, "SharedMemory", _CleanupFails)
    future = pool.submit(str(clip) if uri == "clip" else uri, [PAD])
    if error is None:
        assert len(future.result(timeout=30).pts_s) == 4
    else:
        with pytest.raises(error):
            future.result(timeout=30)
    assert _shm_segments() == set()


def test_running_out_of_memory_under_the_limit_is_decode_oom_not_corrupt(
    tmp_path: Path,
) -> None:
    """Under RLIMIT_AS, a 1080p H.264 decode fails with ENOMEM, or with EAGAIN when FFmpeg
    cannot create its frame threads; both are the limit's doing, never corrupt media.
    Measured here: <= 240 MiB fails with ENOMEM, 245-295 with EAGAIN (but 255-260 with
    INVALIDDATA), from 300 it mostly passes. Only 200 is used here (the EAGAIN band moves
    with the build); test_extract.py injects PyAV's real EAGAIN on any machine."""
    path = make_video(tmp_path / "hd.mp4", width=1920, height=1080, frames=10, gop=5)
    for limit_mb, fails in ((200, True), (1024, False)):
        decode = decode_config(count=1, memory_limit_mb=limit_mb, threads=2,
                                min_interval_s=0.0)
        with KeyframeExtractor(decode, LOCAL) as extractor:
            future = extractor.submit(str(path), [PAD])
            if fails:
                with pytest.raises(DecodeOutOfMemory, match=f"memory_limit_mb={limit_mb}") \
                        as err:
                    future.result(timeout=30)
                assert err.value.reason == "decode_oom"
            else:
                assert future.result(timeout=30).pts_s
