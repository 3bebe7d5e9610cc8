"""CUDA shared memory against the real tritonserver of the test stack (a CPU machine: no GPU
can map a region there, which is exactly a Triton on another machine or GPU): start-up stops
in one line, nothing stays registered, and a Triton not up yet is left to the first batch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import tritonclient.grpc as grpcclient

from consumer.errors import ConfigError
from consumer.inference.cuda_slots import CudaSlots, unregister_stale
from consumer.inference.triton_client import register_at_start
from consumer.models.specs import get_spec
from tests.integration.conftest import RunningStack
from tests.unit.inference.test_cuda_slots import HostRegions

SPEC = get_spec("nsfw_classifier")


@pytest.fixture
def triton(stack: RunningStack) -> Iterator[grpcclient.InferenceServerClient]:
    client = grpcclient.InferenceServerClient(stack.addresses.triton_grpc)
    yield client
    client.close()


def test_a_triton_that_cannot_map_the_slots_stops_start_up_in_one_line(
        triton: grpcclient.InferenceServerClient) -> None:
    slots = CudaSlots(SPEC, 2, 0, HostRegions(), triton, timeout_s=5.0)
    with pytest.raises(ConfigError) as caught:
        register_at_start(slots)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("triton.shared_memory=cuda: Triton cannot map nsfw_classifier's")
    assert "INVALID_ARGUMENT" in message and not slots.registered
    regions = triton.get_cuda_shared_memory_status(as_json=True).get("regions", {})
    assert not [name for name in regions if name.startswith("vmc_")]
    assert unregister_stale(triton) == []  # the server's real status format, read


def test_a_triton_not_up_yet_is_left_to_the_first_batch() -> None:
    client = grpcclient.InferenceServerClient("127.0.0.1:1")
    slots = CudaSlots(SPEC, 2, 0, HostRegions(), client, timeout_s=2.0)
    register_at_start(slots)  # warns, does not stop start-up
    assert not slots.registered
    client.close()
