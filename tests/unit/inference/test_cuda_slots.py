"""CUDA shared-memory batch slots: sized and named once, registered once (and again after
Triton forgets them), leftovers of dead consumers cleaned, rows gathered in order, a slot held
from write to answer. Device memory is faked by host buffers; the real regions run in
tests/gpu."""

from __future__ import annotations

import base64
import time
from typing import Any

import numpy as np
import pytest
import torch

from consumer.errors import InferenceUnavailable
from consumer.inference.cuda_slots import (
    CudaSlots,
    is_unknown_region,
    region_prefix,
    stale_regions,
    unregister_stale,
)
from consumer.models.specs import ModelSpec, get_spec

SPEC = get_spec("nsfw_classifier")
ROW = tuple(SPEC.input_dims)


class HostRegions:
    """Regions in host memory, with what was done to them."""

    def __init__(self) -> None:
        self.memory: dict[str, bytearray] = {}
        self.destroyed: list[str] = []

    def create(self, name: str, nbytes: int, gpu_id: int) -> str:
        self.memory[name] = bytearray(nbytes)
        return name

    def raw_handle(self, region: str) -> bytes:
        return base64.b64encode(f"handle:{region}".encode())  # as tritonclient's

    def write(self, region: str, rows: list[Any]) -> None:
        offset = 0
        for row in rows:
            data = np.asarray(row.cpu() if isinstance(row, torch.Tensor) else row).tobytes()
            self.memory[region][offset:offset + len(data)] = data
            offset += len(data)

    def destroy(self, region: str) -> None:
        self.destroyed.append(region)


class FakeTriton:
    """Triton's CUDA shared-memory registry."""

    def __init__(self, registered: dict[str, int] | None = None) -> None:
        self.registered: dict[str, int] = dict(registered or {})
        self.calls: list[tuple[str, str]] = []

    def register_cuda_shared_memory(self, name: str, raw_handle: bytes, device_id: int,
                                    byte_size: int, **_: Any) -> None:
        assert base64.b64decode(raw_handle) == f"handle:{name}".encode()
        if name in self.registered:
            raise RuntimeError(f"shared memory region '{name}' already in manager")
        self.registered[name] = byte_size
        self.calls.append(("register", name))

    def unregister_cuda_shared_memory(self, name: str = "", **_: Any) -> None:
        self.registered.pop(name, None)
        self.calls.append(("unregister", name))

    def get_cuda_shared_memory_status(self, region_name: str = "",
                                      as_json: bool = False, **_: Any) -> Any:
        return {"regions": {name: {"name": name, "byte_size": str(size)}
                            for name, size in self.registered.items()}}


def _slots(triton: FakeTriton, regions: HostRegions | None = None, count: int = 2,
           spec: ModelSpec = SPEC) -> CudaSlots:
    return CudaSlots(spec, count, 0, regions or HostRegions(), triton, host="node-a", pid=42)


def test_one_region_per_slot_sized_for_a_full_batch() -> None:
    regions = HostRegions()
    slots = _slots(FakeTriton(), regions, count=3)
    names = [slot.name for slot in slots.slots]
    assert names == [f"vmc_node-a_42_{SPEC.name}_{i}" for i in range(3)]
    full = SPEC.max_batch_size * int(np.prod(ROW))
    assert {len(buf) for buf in regions.memory.values()} == {full}
    assert slots.free == 3 and not slots.registered


def test_registered_once_and_again_after_triton_forgets() -> None:
    triton = FakeTriton()
    slots = _slots(triton)
    first = slots.register()
    assert slots.register() == first
    assert [c for c in triton.calls if c[0] == "register"] == [
        ("register", slot.name) for slot in slots.slots]
    triton.registered.clear()  # Triton restarted
    slots.forget_registration(first)
    second = slots.register()
    assert second == first + 1
    assert set(triton.registered) == {slot.name for slot in slots.slots}
    slots.forget_registration(first)  # a late answer to a request sent before: no churn
    assert slots.registered and slots.register() == second


def test_registration_against_a_hung_triton_gives_up_within_its_timeout() -> None:
    class Hung(FakeTriton):
        def register_cuda_shared_memory(self, name: str, raw_handle: bytes, device_id: int,
                                        byte_size: int, **kwargs: Any) -> None:
            self.calls.append(("register", name))
            time.sleep(kwargs["client_timeout"])  # what a hung server costs: the whole timeout
            raise RuntimeError("Deadline Exceeded")

    triton = Hung()
    slots = CudaSlots(SPEC, 3, 0, HostRegions(), triton, timeout_s=0.3, host="h", pid=1)
    started = time.monotonic()
    with pytest.raises((InferenceUnavailable, RuntimeError)):
        slots.register()
    assert len([c for c in triton.calls if c[0] == "register"]) == 1  # one wait, not three
    assert time.monotonic() - started < 3 * 0.3
    assert not slots.registered


def test_leftovers_of_a_predecessor_with_the_same_names_are_replaced() -> None:
    name = f"vmc_node-a_42_{SPEC.name}_0"
    triton = FakeTriton({name: 1})  # a kill -9'd consumer with this pid left it
    slots = _slots(triton)
    slots.register()
    assert triton.registered[name] == slots.slots[0].nbytes


def test_regions_of_dead_consumers_on_this_host_are_unregistered() -> None:
    triton = FakeTriton({"vmc_node-a_7_m_0": 1, "vmc_node-a_8_m_0": 1, "vmc_node-b_7_m_0": 1,
                         "other-app-0": 1})
    gone = unregister_stale(triton, "node-a", alive=lambda pid: pid == 8)
    assert gone == ["vmc_node-a_7_m_0"]
    assert set(triton.registered) == {"vmc_node-a_8_m_0", "vmc_node-b_7_m_0", "other-app-0"}


def test_stale_regions_match_host_exactly() -> None:
    # host "node" must not read host "node-12"'s regions as its own process 12
    names = ["vmc_node_1_m_0", "vmc_node-12_3_m_0", "vmc_node-ab_1_m_0", "vmc_node_x_m_0"]
    assert stale_regions(names, "node", alive=lambda pid: False) == ["vmc_node_1_m_0"]
    assert region_prefix("h", 3) == "vmc_h_3_"


def test_slots_made_before_one_that_cannot_be_are_freed() -> None:
    class Failing(HostRegions):
        def create(self, name: str, nbytes: int, gpu_id: int) -> str:
            if name.endswith("_2"):
                raise RuntimeError("cudaMalloc: out of memory")
            return super().create(name, nbytes, gpu_id)

    regions = Failing()
    with pytest.raises(RuntimeError, match="out of memory"):
        _slots(FakeTriton(), regions, count=3)
    assert sorted(regions.destroyed) == sorted(regions.memory)


def test_a_slot_is_held_until_released() -> None:
    slots = _slots(FakeTriton(), count=2)
    first, second = slots.acquire(), slots.acquire()
    assert first != second and slots.free == 0
    with pytest.raises(InferenceUnavailable, match="all 2 CUDA shared-memory slots"):
        slots.acquire()
    slots.release(first)
    assert slots.acquire() == first
    slots.release(second)
    with pytest.raises(ValueError, match="released twice"):
        slots.release(second)


def test_rows_from_host_and_device_are_gathered_in_order() -> None:
    regions = HostRegions()
    slots = _slots(FakeTriton(), regions)
    rng = np.random.default_rng(1)
    rows = [rng.integers(0, 256, ROW, dtype=np.uint8) for _ in range(3)]
    mixed = [rows[0], torch.from_numpy(rows[1]), rows[2]]
    slot = slots.acquire()
    nbytes = slots.write(slot, mixed)
    assert nbytes == 3 * int(np.prod(ROW))
    written = np.frombuffer(bytes(regions.memory[slot.name][:nbytes]), np.uint8).reshape(3, *ROW)
    np.testing.assert_array_equal(written, np.stack(rows))


@pytest.mark.parametrize("rows", [
    [np.zeros((8, 8, 3), np.uint8)],  # wrong size
    [np.zeros(ROW, np.float32)],  # wrong type
    [],  # nothing
    [np.zeros(ROW, np.uint8)] * (SPEC.max_batch_size + 1),  # more than a slot holds
])
def test_a_row_that_does_not_fit_the_model_is_refused(rows: list[Any]) -> None:
    slots = _slots(FakeTriton())
    with pytest.raises(ValueError):
        slots.write(slots.acquire(), rows)


def test_close_unregisters_and_frees() -> None:
    triton, regions = FakeTriton(), HostRegions()
    slots = _slots(triton, regions)
    slots.register()
    slots.close()
    assert triton.registered == {}
    assert regions.destroyed == [slot.name for slot in slots.slots]


def test_triton_saying_a_region_is_unknown_is_recognised() -> None:
    assert is_unknown_region("[StatusCode.NOT_FOUND] Unable to find shared memory region: "
                             "'vmc-node-a-1-nsfw_classifier-0'")
    assert not is_unknown_region("[StatusCode.INTERNAL] model failed")


def test_start_up_without_the_gpu_fails_in_one_line() -> None:
    from consumer.errors import ConfigError
    from consumer.inference.cuda_slots import check_cuda

    gpus = [99] if torch.cuda.is_available() else [0, 99]
    for gpu in gpus:
        with pytest.raises(ConfigError) as caught:
            check_cuda(gpu)
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"triton.shared_memory=cuda, but GPU {gpu} cannot be used: ")


def test_the_real_writer_fills_a_region_through_its_dlpack_view() -> None:
    """tritonclient's region view and the writer, over host memory standing in for the device
    (tritonclient's own DLPack writer calls torch's `__dlpack__` in a way torch refuses)."""
    from types import SimpleNamespace

    from consumer.inference.cuda_slots import CudaRegion, TritonCudaRegions

    memory = np.zeros(3 * int(np.prod(ROW)), np.uint8)
    handle = SimpleNamespace(_base_addr=memory.ctypes.data, _byte_size=memory.nbytes,
                             _device_id=-1)
    regions = TritonCudaRegions()
    region = CudaRegion(handle, regions.view_of(handle, memory.nbytes))
    rng = np.random.default_rng(2)
    rows = [rng.integers(0, 256, ROW, dtype=np.uint8) for _ in range(3)]
    regions.write(region, [torch.from_numpy(rows[0]), rows[1], torch.from_numpy(rows[2])])
    np.testing.assert_array_equal(memory.reshape(3, *ROW), np.stack(rows))
