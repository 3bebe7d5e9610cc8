"""Frames handed from an NVDEC worker to the parent in a device arena the parent owns: the
layout round-trips, the parent's copy survives the worker's next video, too many frames take
the host path, and a killed worker's successor writes into the same arena. A host arena stands
in for device memory (torch shares both the same way); tests/gpu runs it on CUDA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from consumer.errors import DecodeCrashed
from consumer.media import KeyframeExtractor, ResizeSpec, nvdec
from consumer.media.device_frames import allocate, arena_nbytes, from_arena, to_arena
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.hooks import device_keyframes, misbehaving_task

PAD = ResizeSpec(32, "pad")
STRETCH = ResizeSpec(48, "stretch")
SPECS = [PAD, STRETCH]
LOCAL = SourceSettings(allowed_schemes=["file"])


def _expected(spec: ResizeSpec, count: int) -> np.ndarray:
    index = SPECS.index(spec)
    return np.stack([np.full((spec.size, spec.size, 3), i + 10 * index, np.uint8)
                     for i in range(count)])


def test_an_arena_holds_the_most_frames_a_video_may_yield() -> None:
    assert arena_nbytes([PAD, STRETCH, PAD], 4) == 4 * (32 * 32 * 3 + 48 * 48 * 3)


def test_frames_round_trip_and_the_parents_copy_outlives_the_arena() -> None:
    arena = allocate(arena_nbytes(SPECS, 3), "cpu")
    meta = to_arena(device_keyframes(SPECS, 3), SPECS, arena)
    assert meta is not None
    rest, layout = meta
    assert rest.frames == {} and [(s, n) for s, _, n in layout] == [(PAD, 3), (STRETCH, 3)]
    result = from_arena(meta, arena)
    arena.fill_(255)  # the worker's next video
    for spec in SPECS:
        assert isinstance(result.frames[spec], torch.Tensor)
        np.testing.assert_array_equal(result.frames[spec].numpy(), _expected(spec, 3))


def test_host_frames_go_into_the_arena_too() -> None:
    arena = allocate(arena_nbytes(SPECS, 2), "cpu")
    keyframes = device_keyframes(SPECS, 2)
    keyframes.frames = {spec: block.numpy() for spec, block in keyframes.frames.items()}
    meta = to_arena(keyframes, SPECS, arena)
    assert meta is not None
    np.testing.assert_array_equal(from_arena(meta, arena).frames[STRETCH].numpy(),
                                  _expected(STRETCH, 2))


def test_frames_that_do_not_fit_are_left_to_the_host_path() -> None:
    arena = allocate(arena_nbytes(SPECS, 2), "cpu")
    assert to_arena(device_keyframes(SPECS, 3), SPECS, arena) is None


@pytest.fixture
def gpu_pool(monkeypatch: pytest.MonkeyPatch) -> KeyframeExtractor:
    """One NVDEC-mode worker with a (host) arena for two frames per spec."""
    monkeypatch.setattr(nvdec, "check_available", lambda gpu_id: "a test GPU")
    decode = decode_config(decode="nvdec", count=0, nvdec_workers=1, timeout_s=20.0,
                            max_keyframes=2)
    nbytes = arena_nbytes(SPECS, 2)
    return KeyframeExtractor(decode, LOCAL, task=misbehaving_task,
                             arena=lambda: allocate(nbytes, "cpu"))


def test_a_worker_hands_frames_over_in_its_arena_and_the_host_path_stays(
        gpu_pool: KeyframeExtractor) -> None:
    with gpu_pool:
        first = gpu_pool.submit("hook:torch-frames:2", SPECS).result(timeout=60)
        second = gpu_pool.submit("hook:torch-frames:1", SPECS).result(timeout=60)
        too_many = gpu_pool.submit("hook:torch-frames:3", SPECS).result(timeout=60)
        with pytest.raises(DecodeCrashed):
            gpu_pool.submit("hook:segv", SPECS).result(timeout=60)
        after_crash = gpu_pool.submit("hook:torch-frames:2", SPECS).result(timeout=60)
    for result, count in ((first, 2), (second, 1), (after_crash, 2)):
        for spec in SPECS:
            assert isinstance(result.frames[spec], torch.Tensor)  # came through the arena
            np.testing.assert_array_equal(result.frames[spec].numpy(), _expected(spec, count))
    for spec in SPECS:  # beyond the arena: host shared memory, as on a CPU node
        assert isinstance(too_many.frames[spec], np.ndarray)
        np.testing.assert_array_equal(too_many.frames[spec], _expected(spec, 3))


@pytest.mark.parametrize(("message", "error"), [
    ("CUDA out of memory. Tried to allocate 20.00 MiB", "DecodeOutOfMemory"),
    ("CUDA error: an illegal memory access was encountered", "DecodeFailed"),
])
def test_frames_that_cannot_be_copied_out_fail_the_video_with_a_cause(
        message: str, error: str) -> None:
    from consumer.media.device_frames import out_of_arena

    class Full:
        is_cuda = True

        def __getitem__(self, index: object) -> None:
            raise RuntimeError(message)

    meta = (device_keyframes(SPECS, 1), [(PAD, 0, 1)])
    with pytest.raises(Exception) as caught:
        out_of_arena(meta, Full())  # type: ignore[arg-type]
    assert type(caught.value).__name__ == error and message in str(caught.value)
