"""Synchronous scoring of one video's keyframes, for `vmc scan` (no Kafka, no batching).

`OnnxScorer` runs the very ONNX that Triton serves, in-process with onnxruntime (the `models`
extra); `TritonScorer` asks a Triton server. Both return scores in the spec's label order.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from consumer.errors import InferenceError, InferenceUnavailable
from consumer.inference.triton_client import BatchScores, TritonModelClient
from triton_models.specs import ModelSpec


class Scorer(Protocol):
    spec: ModelSpec
    version: str

    def scores(self, frames: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]: ...


class OnnxScorer:
    """The served model's ONNX graph on the local CPU."""

    def __init__(self, spec: ModelSpec, onnx_path: Path) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise InferenceUnavailable(
                "onnxruntime is not installed: pip install 'video-moderation-consumer[models]' "
                "or pass --triton URL") from exc
        self.spec = spec
        self.version = spec.version
        self._session = onnxruntime.InferenceSession(str(onnx_path),
                                                     providers=["CPUExecutionProvider"])

    def scores(self, frames: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        out = []
        for start in range(0, len(frames), self.spec.max_batch_size):
            chunk = frames[start:start + self.spec.max_batch_size]
            (scores,) = self._session.run([self.spec.scores_output],
                                          {self.spec.input_name: chunk})
            out.append(np.asarray(scores, np.float32))
        return np.concatenate(out)


class TritonScorer:
    """One request per chunk to a Triton server, waited for."""

    def __init__(self, spec: ModelSpec, url: str, timeout_s: float) -> None:
        self.spec = spec
        self.version = spec.version
        self._client = TritonModelClient(url, spec, timeout_s)
        self._timeout_s = timeout_s

    def scores(self, frames: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        out = []
        for start in range(0, len(frames), self.spec.max_batch_size):
            result = self._infer(np.ascontiguousarray(
                frames[start:start + self.spec.max_batch_size]))
            self.version = result.model_version
            out.append(result.scores)
        return np.concatenate(out)

    def _infer(self, pixels: npt.NDArray[np.uint8]) -> BatchScores:
        done = threading.Event()
        box: list[BatchScores | InferenceError] = []

        def finish(result: BatchScores | InferenceError) -> None:
            box.append(result)
            done.set()

        self._client.infer_async(pixels, finish)
        if not done.wait(self._timeout_s + 5):
            raise InferenceUnavailable(f"{self.spec.name}: no answer from Triton")
        result = box[0]
        if isinstance(result, InferenceError):
            raise result
        return result

    def close(self) -> None:
        self._client.close()
