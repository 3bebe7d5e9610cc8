"""Synchronous scoring of one video's keyframes, for `vmc scan` (no Kafka, no batching).

`OnnxScorer` runs the very ONNX that Triton serves, in-process with onnxruntime (the `models`
extra), and `RapidOcrReader` the reference OCR; `TritonScorer` asks a Triton server. Scores come
in the spec's label order, with the per-frame embeddings of a model that has an embedding output
(`Scored`, as the pipeline's batches give them); a text reader has no scores and returns lines
per frame.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from consumer.errors import InferenceError, InferenceUnavailable
from consumer.inference.triton_client import BatchScores, TextRead, TritonModelClient
from consumer.models.specs import ModelSpec


class Scored(NamedTuple):
    scores: npt.NDArray[np.float32]  # [N, labels]
    embeddings: npt.NDArray[np.float32] | None = None  # [N, D], where spec.embedding_output


class Scorer(Protocol):
    spec: ModelSpec
    version: str

    def scored(self, frames: npt.NDArray[np.uint8]) -> Scored: ...

    def texts(self, frames: npt.NDArray[np.uint8]) -> list[list[TextRead]] | None:
        """Lines read per frame, for a text reader (spec.text_output); else None."""


def _models_extra(module: str) -> Any:
    """A module of the `models` extra, or a clear way out."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InferenceUnavailable(
            f"{module} is not installed: pip install 'video-moderation-consumer[models]' "
            "or pass --triton URL") from exc


class RapidOcrReader:
    """`ocr` in-process: RapidOCR from the same wheel the served model wraps (the reference
    the served chain is tested against), on the frames as the pipeline sends them."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.version = spec.version
        self._ocr = _models_extra("rapidocr_onnxruntime").RapidOCR()

    def scored(self, frames: npt.NDArray[np.uint8]) -> Scored:
        return Scored(np.zeros((len(frames), 0), np.float32))

    def texts(self, frames: npt.NDArray[np.uint8]) -> list[list[TextRead]] | None:
        out = []
        for frame in frames:
            result, _ = self._ocr(np.ascontiguousarray(frame[..., ::-1]))  # it reads BGR
            out.append([TextRead(str(text), float(score),
                                 tuple((float(x), float(y)) for x, y in box))
                        for box, text, score in (result or [])])
        return out


class OnnxScorer:
    """The served model's ONNX graph on the local CPU."""

    def __init__(self, spec: ModelSpec, onnx_path: Path) -> None:
        self.spec = spec
        self.version = spec.version
        self._session = _models_extra("onnxruntime").InferenceSession(str(onnx_path),
                                                     providers=["CPUExecutionProvider"])

    def scored(self, frames: npt.NDArray[np.uint8]) -> Scored:
        names = [self.spec.scores_output, *filter(None, [self.spec.embedding_output])]
        out: list[list[npt.NDArray[np.float32]]] = []
        for start in range(0, len(frames), self.spec.max_batch_size):
            chunk = frames[start:start + self.spec.max_batch_size]
            out.append([np.asarray(x, np.float32)
                        for x in self._session.run(names, {self.spec.input_name: chunk})])
        scores = np.concatenate([x[0] for x in out])
        return Scored(scores, np.concatenate([x[1] for x in out]) if len(names) > 1 else None)

    def texts(self, frames: npt.NDArray[np.uint8]) -> list[list[TextRead]] | None:
        return None


class TritonScorer:
    """One request per chunk to a Triton server, waited for."""

    def __init__(self, spec: ModelSpec, url: str, timeout_s: float) -> None:
        self.spec = spec
        self.version = spec.version
        self._client = TritonModelClient(url, spec, timeout_s)
        self._timeout_s = timeout_s

    def scored(self, frames: npt.NDArray[np.uint8]) -> Scored:
        out = []
        for start in range(0, len(frames), self.spec.max_batch_size):
            result = self._infer(np.ascontiguousarray(
                frames[start:start + self.spec.max_batch_size]))
            self.version = result.model_version
            out.append(result)
        embeddings = [r.embeddings for r in out if r.embeddings is not None]
        return Scored(np.concatenate([r.scores for r in out]),
                      np.concatenate(embeddings) if len(embeddings) == len(out) else None)

    def texts(self, frames: npt.NDArray[np.uint8]) -> list[list[TextRead]] | None:
        if self.spec.text_output is None:
            return None
        out: list[list[TextRead]] = []
        for start in range(0, len(frames), self.spec.max_batch_size):
            result = self._infer(np.ascontiguousarray(
                frames[start:start + self.spec.max_batch_size]))
            out += result.texts or []
        return out

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
