"""The Triton edge: async gRPC inference for one model, errors mapped once into ours.

Transient server states (UNAVAILABLE, RESOURCE_EXHAUSTED, a local cancel) and a model the
server does not have loaded (NOT_FOUND: Triton restarted without it) become
`InferenceUnavailable`: the batch is retried and the breaker counts it, never a verdict. No
answer within the timeout (DEADLINE_EXCEEDED) is `InferenceTimeout`: the pipeline decides
whether Triton or the rows were at fault. The request carries the same timeout for Triton's
queue, so a request given up on is dropped there too, not run for nobody. Anything else, and
a response without the declared output, is an `InferenceError` for that batch's videos.

A text reader's answer is bounded here whatever the server sends: at most
`spec.max_text_lines` lines per image and `MAX_TEXT_CHARS` characters per line.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from consumer.errors import ConfigError, InferenceError, InferenceTimeout, InferenceUnavailable
from consumer.inference.cuda_slots import CudaSlots, Slot, is_unknown_region
from consumer.models.specs import INPUT_DTYPE, ModelSpec
from consumer.pixels import on_host

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({
    "StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.RESOURCE_EXHAUSTED",
    "StatusCode.CANCELLED", "StatusCode.NOT_FOUND",
})
TIMEOUT_STATUS = "StatusCode.DEADLINE_EXCEEDED"
MAX_TEXT_CHARS = 256  # a line of on-screen text longer than this is cut


@dataclass(frozen=True)
class TextRead:
    """One line of on-screen text: what it says, the reader's confidence, its corners."""

    text: str
    score: float
    box: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class BatchScores:
    """One batch's scores [B, C] in label order, and the model version that produced them;
    a text reader (spec.text_output) answers `texts`, per image, and no scores (C = 0)."""

    scores: npt.NDArray[np.float32]
    model_version: str
    texts: list[list[TextRead]] | None = None
    embeddings: npt.NDArray[np.float32] | None = None  # [B, D], where spec.embedding_output


def parse_texts(raw: Any, rows: int, max_lines: int = 0) -> list[list[TextRead]]:
    """A text output [B, 1] of JSON arrays -> per image its lines (the first `max_lines`, when
    set, each cut to `MAX_TEXT_CHARS`); ValueError if malformed."""
    values = np.asarray(raw, dtype=object).reshape(-1)
    if len(values) != rows:
        raise ValueError(f"{len(values)} text results for {rows} images")
    out = []
    for value in values:
        lines = json.loads(value.decode() if isinstance(value, bytes) else str(value))
        if not isinstance(lines, list):
            raise ValueError("a text result is not a JSON array")
        if max_lines:
            lines = lines[:max_lines]
        out.append([TextRead(str(line["text"])[:MAX_TEXT_CHARS], float(line["score"]),
                             tuple((float(x), float(y)) for x, y in line["box"]))
                    for line in lines])
    return out


def map_triton_error(exc: BaseException, spec: ModelSpec) -> InferenceError:
    """Convert a tritonclient exception into the project's error family."""
    status = getattr(exc, "status", lambda: None)()
    message = getattr(exc, "message", lambda: str(exc))() or str(exc)
    text = f"{spec.name}:{spec.version}: {status or type(exc).__name__}: {message}"
    if status == TIMEOUT_STATUS:
        return InferenceTimeout(text)
    if status is None or status in RETRYABLE_STATUS:
        return InferenceUnavailable(text)
    return InferenceError(text)


def host_batch(rows: Sequence[Any] | npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Rows as one contiguous [B, H, W, C] host array (a device row is copied to the host)."""
    if isinstance(rows, np.ndarray):
        return np.ascontiguousarray(rows)
    return np.stack([on_host(row) for row in rows])


class TritonModelClient:
    """Sends uint8 NHWC batches of one model; never blocks the caller on the network.

    With `slots` (CUDA shared memory) the rows are copied into a registered device region and
    the request names it; without, they travel as uint8 over gRPC.
    """

    def __init__(self, url: str, spec: ModelSpec, timeout_s: float,
                 slots: Callable[[Any], CudaSlots] | None = None) -> None:
        import tritonclient.grpc as grpcclient

        self.spec = spec
        self.timeout_s = timeout_s
        self._grpc = grpcclient
        self._client = grpcclient.InferenceServerClient(url)
        try:
            self.slots = slots(self._client) if slots is not None else None
        except BaseException:
            self._client.close()
            raise

    def infer_async(self, rows: Sequence[Any] | npt.NDArray[np.uint8],
                    done: Callable[[BatchScores | InferenceError], None]) -> None:
        """Start one request for these rows ([H, W, C] uint8 each, or one [B, H, W, C] array);
        `done` runs once, on a gRPC thread, with scores or a mapped error."""
        spec = self.spec
        count = len(rows)
        outputs = [self._grpc.InferRequestedOutput(name) for name in
                   (spec.text_output or spec.scores_output, spec.embedding_output) if name]
        slot: Slot | None = None
        generation = 0
        if self.slots is None:
            pixels = host_batch(rows)
            expected = (count, *spec.input_dims)
            if pixels.dtype != np.uint8 or pixels.shape != expected:
                raise ValueError(f"{spec.name}: batch {pixels.dtype}{pixels.shape}, "
                                 f"expected uint8{expected}")
            tensor = self._grpc.InferInput(spec.input_name, list(pixels.shape), INPUT_DTYPE)
            tensor.set_data_from_numpy(pixels)
        else:
            try:
                tensor, slot, generation = self._in_slot(self.slots, rows)
            except InferenceError as exc:  # slots not registered or busy: retried
                done(exc)
                return
        once = threading.Lock()

        def finish(outcome: BatchScores | InferenceError) -> None:
            if not once.acquire(blocking=False):
                return  # answered already: the pipeline hears of a batch once
            try:
                if slot is not None:
                    assert self.slots is not None
                    self.slots.release(slot)
                    if isinstance(outcome, InferenceError) and is_unknown_region(str(outcome)):
                        self.slots.forget_registration(generation)  # Triton restarted
                        outcome = InferenceUnavailable(str(outcome))
            finally:
                done(outcome)

        def callback(result: Any, error: Any) -> None:
            try:
                outcome = self._to_scores(result, error, count)
            except Exception as exc:  # never lose a completion on gRPC's thread
                outcome = InferenceError(f"{spec.name}:{spec.version}: unreadable response: "
                                         f"{exc}")
            finish(outcome)

        try:
            self._client.async_infer(spec.name, [tensor], callback, outputs=outputs,
                                     client_timeout=self.timeout_s,
                                     timeout=int(self.timeout_s * 1_000_000))
        except Exception as exc:
            finish(map_triton_error(exc, spec))

    def _in_slot(self, slots: CudaSlots, rows: Sequence[Any] | npt.NDArray[np.uint8],
                 ) -> tuple[Any, Slot, int]:
        """The rows copied into a free, registered slot, the input that names it, and the
        registration it was sent under."""
        try:
            generation = slots.register()
        except Exception as exc:  # Triton down or refusing: retried like any outage
            raise InferenceUnavailable(f"{self.spec.name}: cannot register CUDA shared "
                                       f"memory: {map_triton_error(exc, self.spec)}") from exc
        slot = slots.acquire()
        try:
            nbytes = slots.write(slot, rows)
            tensor = self._grpc.InferInput(self.spec.input_name,
                                           [len(rows), *self.spec.input_dims], INPUT_DTYPE)
            tensor.set_shared_memory(slot.name, nbytes)
        except BaseException:
            slots.release(slot)  # not sent: the slot is free again
            raise
        return tensor, slot, generation

    def _to_scores(self, result: Any, error: Any, rows: int) -> BatchScores | InferenceError:
        spec = self.spec
        if error is not None:
            return map_triton_error(error, spec)
        version = str(result.get_response().model_version or spec.version)
        if spec.text_output is not None:
            try:
                texts = parse_texts(result.as_numpy(spec.text_output), rows,
                                    spec.max_text_lines)
            except (ValueError, TypeError, KeyError) as exc:
                return InferenceError(f"{spec.name}:{spec.version}: unusable "
                                      f"{spec.text_output}: {exc}")
            return BatchScores(np.zeros((rows, 0), np.float32), version, texts)
        scores = result.as_numpy(spec.scores_output)
        if scores is None:
            return InferenceError(f"{spec.name}:{spec.version}: no {spec.scores_output!r} output")
        if scores.shape != (rows, len(spec.labels)):
            return InferenceError(f"{spec.name}:{spec.version}: {spec.scores_output} shape "
                                  f"{scores.shape}, expected {(rows, len(spec.labels))}")
        embeddings = None
        if spec.embedding_output is not None:
            embeddings = result.as_numpy(spec.embedding_output)
            if embeddings is None or embeddings.shape != (rows, spec.embedding_size):
                return InferenceError(f"{spec.name}:{spec.version}: {spec.embedding_output} "
                                      f"missing or not {(rows, spec.embedding_size)}")
            embeddings = embeddings.astype(np.float32, copy=False)
        return BatchScores(scores.astype(np.float32, copy=False), version,
                           embeddings=embeddings)

    def ready(self) -> bool:
        """Server and model ready; any error means not ready (never raises)."""
        try:
            return bool(self._client.is_server_ready(client_timeout=self.timeout_s)
                        and self._client.is_model_ready(self.spec.name,
                                                        client_timeout=self.timeout_s))
        except Exception:
            return False

    def close(self) -> None:
        if self.slots is not None:
            self.slots.close()
        self._client.close()


def register_at_start(slots: CudaSlots) -> None:
    """Register now, so a Triton that cannot map the regions (on another machine or GPU)
    stops start-up in one line; a Triton not up yet is left to the first batch."""
    try:
        slots.register()
    except Exception as exc:
        error = map_triton_error(exc, slots.spec)
        if isinstance(error, InferenceUnavailable):
            log.warning("CUDA shared memory not registered yet (%s); the first batch will",
                        error)
            return
        raise ConfigError(f"triton.shared_memory=cuda: Triton cannot map {slots.spec.name}'s "
                          f"batch slots on GPU {slots.gpu_id} (is it on this machine and "
                          f"GPU?): {error}") from None
