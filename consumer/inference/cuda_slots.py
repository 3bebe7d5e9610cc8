"""Batch slots in CUDA shared memory: frames reach Triton without a trip through the host.

When the consumer and Triton share a GPU (`triton.shared_memory` cuda), each model gets one
device region per batch in flight (`pipeline.max_inflight_batches`), sized for a full batch and
registered with Triton once. A batch's rows (device tensors from NVDEC workers, or host arrays
from CPU workers) are copied into a free slot, and the request names the region instead of
carrying pixels. A slot is busy from that copy until Triton's answer arrives.

Region names (`vmc_HOST_PID_MODEL_I`: a host name has no underscore) carry this host's name
and this process's id, so consumers sharing a Triton never collide, and a restarted consumer
unregisters what a dead predecessor on its host left behind. Triton forgets every registration
when it restarts: an answer saying a region is unknown (to a request sent under the current
registration) marks the slots unregistered, and the batch is retried after they are registered
again.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from consumer.errors import ConfigError, InferenceUnavailable
from consumer.models.specs import ModelSpec

log = logging.getLogger(__name__)

NAME_PREFIX = "vmc"
SEPARATOR = "_"  # never in a host name, so a host's regions are told apart from another's
# How Triton answers a request naming a region it does not know (restarted, unregistered).
_UNKNOWN_REGION = re.compile(r"unable to find (cuda )?shared memory region", re.IGNORECASE)


class Regions(Protocol):
    """Device memory regions that Triton can map: tritonclient's CUDA IPC regions for real."""

    def create(self, name: str, nbytes: int, gpu_id: int) -> Any: ...

    def raw_handle(self, region: Any) -> bytes: ...

    def write(self, region: Any, rows: Sequence[Any]) -> None:
        """Copy the rows one after the other from the region's start; done when it returns."""

    def destroy(self, region: Any) -> None: ...


@dataclass(frozen=True)
class CudaRegion:
    handle: Any  # tritonclient's CudaSharedMemoryRegion
    view: Any  # a flat torch uint8 tensor over its device memory


class TritonCudaRegions:
    """`tritonclient.utils.cuda_shared_memory`: cudaMalloc'd regions with an IPC handle, written
    through a torch view (its own DLPack writer calls `__dlpack__(stream)` positionally, which
    torch's keyword-only signature refuses)."""

    def __init__(self) -> None:
        import torch
        import tritonclient.utils.cuda_shared_memory as cudashm
        from torch.utils.dlpack import from_dlpack

        self._shm = cudashm
        self._torch = torch
        self._from_dlpack = from_dlpack

    def create(self, name: str, nbytes: int, gpu_id: int) -> CudaRegion:
        handle = self._shm.create_shared_memory_region(name, nbytes, gpu_id)
        return CudaRegion(handle, self.view_of(handle, nbytes))

    def view_of(self, handle: Any, nbytes: int) -> Any:
        """A flat torch uint8 tensor over the region's memory (DLPack: no copy)."""
        return self._from_dlpack(self._shm.as_shared_memory_tensor(handle, "UINT8", [nbytes]))

    def raw_handle(self, region: CudaRegion) -> bytes:
        return bytes(self._shm.get_raw_handle(region.handle))

    def write(self, region: CudaRegion, rows: Sequence[Any]) -> None:
        # A device row is copied device to device, a host row host to device; done on return.
        offset = 0
        for row in rows:
            flat = self._torch.as_tensor(row).reshape(-1)
            region.view[offset:offset + flat.numel()].copy_(flat)
            offset += flat.numel()
        if region.view.is_cuda:
            self._torch.cuda.synchronize(region.view.device)

    def destroy(self, region: CudaRegion) -> None:
        self._shm.destroy_shared_memory_region(region.handle)


class Registry(Protocol):
    """The part of Triton's gRPC client that registers regions."""

    def register_cuda_shared_memory(self, name: str, raw_handle: bytes, device_id: int,
                                    byte_size: int, *, client_timeout: float) -> None: ...

    def unregister_cuda_shared_memory(self, name: str = "", *,
                                      client_timeout: float) -> None: ...

    def get_cuda_shared_memory_status(self, region_name: str = "", as_json: bool = False, *,
                                      client_timeout: float) -> Any: ...


def host_name() -> str:
    return socket.gethostname().replace(SEPARATOR, "-")


def region_prefix(host: str, pid: int) -> str:
    return f"{NAME_PREFIX}{SEPARATOR}{host}{SEPARATOR}{pid}{SEPARATOR}"


def stale_regions(names: Iterable[str], host: str, alive: Callable[[int], bool]) -> list[str]:
    """Regions that consumers on this host registered and whose process is gone."""
    sep = re.escape(SEPARATOR)
    pattern = re.compile(rf"^{re.escape(NAME_PREFIX)}{sep}{re.escape(host)}{sep}(\d+){sep}")
    stale = []
    for name in names:
        match = pattern.match(name)
        if match is not None and not alive(int(match.group(1))):
            stale.append(name)
    return stale


def is_unknown_region(message: str) -> bool:
    return _UNKNOWN_REGION.search(message) is not None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_UINT8 = ("uint8", "torch.uint8")  # numpy's and torch's names of the one input type


def _left(deadline: float) -> float:
    """Seconds left before `deadline`; past it, registration gives up as an outage."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise InferenceUnavailable("registering CUDA shared memory took longer than "
                                   "triton.timeout_s")
    return left


@dataclass(frozen=True)
class Slot:
    name: str
    region: Any
    nbytes: int


class CudaSlots:
    """The batch slots of one model: created at start, registered on first use and again
    after Triton forgets them, written per batch, released by the batch's answer."""

    def __init__(self, spec: ModelSpec, count: int, gpu_id: int, regions: Regions,
                 registry: Registry, *, timeout_s: float = 10.0, host: str | None = None,
                 pid: int | None = None) -> None:
        if count < 1:
            raise ValueError("need at least one batch slot")
        self.spec = spec
        self.gpu_id = gpu_id
        self.row_nbytes = 1
        for dim in spec.input_dims:
            self.row_nbytes *= dim
        self._regions = regions
        self._registry = registry
        self.timeout_s = timeout_s  # of each registry call: a hung Triton must not hang us
        self.host = host or host_name()
        prefix = region_prefix(self.host, os.getpid() if pid is None else pid)
        nbytes = spec.max_batch_size * self.row_nbytes
        self.slots: list[Slot] = []
        try:
            for i in range(count):
                name = f"{prefix}{spec.name}{SEPARATOR}{i}"
                self.slots.append(Slot(name, regions.create(name, nbytes, gpu_id), nbytes))
        except BaseException:
            for slot in self.slots:
                regions.destroy(slot.region)
            raise
        self._free = list(reversed(self.slots))
        # The free list and the registration state (answers come on gRPC threads).
        self._lock = threading.Lock()
        self._register_lock = threading.Lock()  # one registration at a time
        self._registered = False
        self._generation = 0  # registrations so far: an answer names the one it was sent under

    @property
    def registered(self) -> bool:
        return self._registered

    def register(self) -> int:
        """Register every slot with Triton, after unregistering what dead consumers on this
        host left there and same-named leftovers (a predecessor with this process id); the
        registration's number. All calls together take at most `timeout_s`: this runs on
        the pipeline's loop, which a hung Triton must not hold past its liveness limit."""
        with self._register_lock:
            with self._lock:
                if self._registered:
                    return self._generation
            deadline = time.monotonic() + self.timeout_s
            unregister_stale(self._registry, self.host, timeout_s=_left(deadline))
            for slot in self.slots:
                try:
                    self._registry.unregister_cuda_shared_memory(
                        slot.name, client_timeout=_left(deadline))
                except InferenceUnavailable:
                    raise
                except Exception:
                    log.debug("no earlier registration of %s", slot.name)
                self._registry.register_cuda_shared_memory(
                    slot.name, self._regions.raw_handle(slot.region), self.gpu_id, slot.nbytes,
                    client_timeout=_left(deadline))
            with self._lock:
                self._generation += 1
                self._registered = True
                return self._generation

    def forget_registration(self, generation: int) -> None:
        """Triton no longer knows the slots (it restarted): register them before next use.
        An answer to a request sent under an older registration changes nothing."""
        with self._lock:
            if generation == self._generation:
                self._registered = False

    def acquire(self) -> Slot:
        """A free slot; none free means more batches in flight than slots, a wiring fault
        that is retried like an unavailable server rather than failing videos."""
        with self._lock:
            if not self._free:
                raise InferenceUnavailable(f"{self.spec.name}: all {len(self.slots)} CUDA "
                                           "shared-memory slots are in flight")
            return self._free.pop()

    def release(self, slot: Slot) -> None:
        with self._lock:
            if slot in self._free:
                raise ValueError(f"slot {slot.name} released twice")
            self._free.append(slot)

    @property
    def free(self) -> int:
        with self._lock:
            return len(self._free)

    def write(self, slot: Slot, rows: Sequence[Any] | npt.NDArray[np.uint8]) -> int:
        """Copy the batch's rows into the slot; the bytes the request will name."""
        if not 0 < len(rows) <= self.spec.max_batch_size:
            raise ValueError(f"{self.spec.name}: {len(rows)} rows for a slot of "
                             f"{self.spec.max_batch_size}")
        for row in rows:
            shape = tuple(row.shape)
            if shape != tuple(self.spec.input_dims) or str(row.dtype) not in _UINT8:
                raise ValueError(f"{self.spec.name}: row {row.dtype}{shape}, expected "
                                 f"uint8{tuple(self.spec.input_dims)}")
        self._regions.write(slot.region, list(rows))
        return len(rows) * self.row_nbytes

    def close(self) -> None:
        """Unregister from Triton (if it is still there) and free the device memory."""
        for slot in self.slots:
            if self._registered:
                try:
                    self._registry.unregister_cuda_shared_memory(slot.name,
                                                                 client_timeout=self.timeout_s)
                except Exception as exc:
                    log.info("cannot unregister %s: %s", slot.name, exc)
            self._regions.destroy(slot.region)
        self._registered = False
        self._free = []


def unregister_stale(registry: Registry, host: str | None = None,
                     alive: Callable[[int], bool] = pid_alive, *,
                     timeout_s: float = 10.0) -> list[str]:
    """Unregister regions of dead consumers on this host (a kill -9 leaves them in Triton,
    holding device memory); returns their names."""
    status = registry.get_cuda_shared_memory_status(as_json=True, client_timeout=timeout_s)
    names = list((status or {}).get("regions", {}))
    stale = stale_regions(names, host or host_name(), alive)
    for name in stale:
        registry.unregister_cuda_shared_memory(name, client_timeout=timeout_s)
        log.info("unregistered CUDA shared memory %s of a consumer that is gone", name)
    return stale


def check_cuda(gpu_id: int) -> str:
    """The name of CUDA device `gpu_id`, or `ConfigError` in one line (no GPU, no CUDA
    build of torch, no such device)."""
    try:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        if gpu_id >= torch.cuda.device_count():
            raise RuntimeError(f"only {torch.cuda.device_count()} CUDA device(s)")
        return str(torch.cuda.get_device_name(gpu_id))
    except Exception as exc:
        raise ConfigError(f"triton.shared_memory=cuda, but GPU {gpu_id} cannot be used: "
                          f"{exc}") from None
