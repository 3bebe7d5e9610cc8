"""The isolated worker pool: crashes, hangs and memory blow-ups fail one video only; frames
come back through shared memory; the queue is bounded."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from consumer.media import (
    DecodeCrashed,
    DecodeOutOfMemory,
    DecodeTimeout,
    ExtractorClosed,
    ExtractorQueueFull,
    KeyframeExtractor,
    ResizeSpec,
    UnsupportedContainer,
    extract_keyframes,
)
from consumer.media.workers import segment_prefix
from consumer.settings import DecodeSettings, SourceSettings
from tests.unit.media.hooks import misbehaving_task

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
    decode = DecodeSettings(workers=1, timeout_s=3.0, memory_limit_mb=1024,
                            max_keyframes=4, min_interval_s=0.0, threads=1)
    with KeyframeExtractor(decode, LOCAL, task=misbehaving_task) as extractor:
        yield extractor


def test_frames_from_a_worker_equal_an_in_process_extraction(
    pool: KeyframeExtractor, clip: Path, decode: DecodeSettings,
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
    decode = DecodeSettings(workers=1, queue_size=1, timeout_s=1.0, threads=1)
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
    decode = DecodeSettings(workers=1, queue_size=4, timeout_s=1.0, threads=1)
    extractor = KeyframeExtractor(decode, LOCAL, task=misbehaving_task)
    running = extractor.submit("hook:hang", [PAD])
    deadline = time.monotonic() + 10
    while extractor.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    waiting = extractor.submit(str(clip), [PAD])
    extractor.close()
    with pytest.raises(ExtractorClosed):
        waiting.result(timeout=1)
    with pytest.raises(DecodeTimeout):
        running.result(timeout=1)
    with pytest.raises(ExtractorClosed):
        extractor.submit(str(clip), [PAD])
