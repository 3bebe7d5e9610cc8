"""Frames that never leave the card, on a real GPU: an NVDEC worker's frames reach the parent
through its device arena equal to the host path's, and batch slots in real CUDA IPC regions
hold exactly the rows written (device rows and host rows alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from consumer.inference.cuda_slots import CudaSlots, TritonCudaRegions
from consumer.media.device_frames import allocate, arena_nbytes
from consumer.media.resize import ResizeSpec
from consumer.media.workers import KeyframeExtractor
from consumer.models.specs import get_spec
from consumer.settings import SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.videos import make_video

SPECS = [ResizeSpec(320, "pad"), ResizeSpec(224, "stretch")]
LOCAL = SourceSettings(allowed_schemes=["file"])
GPU = decode_config(decode="nvdec", count=0, nvdec_workers=1)


def test_nvdec_frames_come_through_the_device_arena_as_the_host_path_gives_them(
        tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", width=1280, height=720, frames=40, gop=10, texture=True)
    with KeyframeExtractor(GPU, LOCAL) as host:
        expected = host.submit(str(path), SPECS).result(timeout=120)
    nbytes = arena_nbytes(SPECS, GPU.max_keyframes)
    with KeyframeExtractor(GPU, LOCAL, arena=lambda: allocate(nbytes, "cuda:0")) as device:
        got = device.submit(str(path), SPECS).result(timeout=120)
        again = device.submit(str(path), SPECS).result(timeout=120)  # arena reused
    assert got.device == "nvdec" and got.pts_s == expected.pts_s
    for spec in SPECS:
        for result in (got, again):
            frames = result.frames[spec]
            assert isinstance(frames, torch.Tensor) and frames.is_cuda
            np.testing.assert_array_equal(frames.cpu().numpy(), expected.frames[spec])


class _Registry:
    def register_cuda_shared_memory(self, *args: Any, **kwargs: Any) -> None:
        pass

    def unregister_cuda_shared_memory(self, *args: Any, **kwargs: Any) -> None:
        pass

    def get_cuda_shared_memory_status(self, *args: Any, **kwargs: Any) -> Any:
        return {}


def test_a_slot_in_a_real_cuda_region_holds_device_and_host_rows_in_order() -> None:
    import tritonclient.utils.cuda_shared_memory as cudashm

    spec = get_spec("nsfw_classifier")
    slots = CudaSlots(spec, 2, 0, TritonCudaRegions(), _Registry())
    rng = np.random.default_rng(3)
    rows = [rng.integers(0, 256, tuple(spec.input_dims), dtype=np.uint8) for _ in range(3)]
    mixed = [torch.from_numpy(rows[0]).cuda(), rows[1], torch.from_numpy(rows[2]).cuda()]
    slot = slots.acquire()
    nbytes = slots.write(slot, mixed)
    read = cudashm.get_contents_as_numpy(slot.region.handle, "UINT8", [3, *spec.input_dims])
    np.testing.assert_array_equal(read, np.stack(rows))
    assert nbytes == read.nbytes
    slots.close()
