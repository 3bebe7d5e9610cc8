"""`ocr`: on-screen text of uint8 RGB frames, as RapidOCR reads it, on Triton.

A python-backend (BLS) model: RapidOCR from the rapidocr-onnxruntime wheel does its own pre-
and post-processing (resize, DB box extraction, crops, direction, CTC decoding), and each of
its three networks runs as a Triton model (`ocr_det`, `ocr_cls`, `ocr_rec`) through BLS
requests, so the reference code is the served code and only where the networks run differs.

Input `images` [B, H, W, 3] uint8 RGB; output `texts` [B, 1] BYTES: per image a JSON array of
{"text", "score", "box": [[x, y] x 4]} in the image's pixels. RapidOCR takes BGR arrays (what
cv2 reads, what PaddleOCR trained on): the channels are swapped here.

A frame's cost is bounded: recognition runs per detected box, in time that grows with the
box's width over its height, so at most `max_lines` boxes whose widths add up to at most
`max_widths` heights (config parameters) are read, the tallest text first, in reading order.
A request its client cancelled (gone past its timeout) stops between frames and between
recognition batches instead of running on.
"""

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils
from rapidocr_onnxruntime import RapidOCR


class Cancelled(Exception):
    """The client gave up on the request being served."""


class _OnTriton:
    """Stands in for RapidOCR's onnxruntime session: the same ONNX, run by Triton."""

    def __init__(self, model: str, input_name: str, cancelled: Callable[[], bool]) -> None:
        self.model = model
        self.input_name = input_name
        self.cancelled = cancelled

    def __call__(self, batch: Any) -> list[Any]:
        if self.cancelled():
            raise Cancelled(self.model)
        request = pb_utils.InferenceRequest(
            model_name=self.model,
            inputs=[pb_utils.Tensor(self.input_name, np.ascontiguousarray(batch, np.float32))],
            requested_output_names=[])
        response = request.exec()
        if response.has_error():
            raise pb_utils.TritonModelException(f"{self.model}: {response.error().message()}")
        return [tensor.as_numpy() for tensor in response.output_tensors()]


def _extent(box: Any) -> tuple[float, float]:
    """A detected box's (width, height) from its corners (top-left, top-right, ..., clockwise)."""
    width = float(np.hypot(*(np.asarray(box[1]) - np.asarray(box[0]))))
    height = float(np.hypot(*(np.asarray(box[3]) - np.asarray(box[0]))))
    return width, max(height, 1.0)


def _largest(detect: Callable[[Any], Any], max_lines: int,
             max_widths: float) -> Callable[[Any], Any]:
    """RapidOCR's box detection, keeping the boxes with the tallest text first (the most
    prominent), in reading order, while they number at most `max_lines` and their widths add
    up to at most `max_widths` times their heights (recognition cost grows with that sum)."""

    def capped(img: Any) -> Any:
        boxes, elapsed = detect(img)
        if boxes is None or not len(boxes):
            return boxes, elapsed
        extents = [_extent(box) for box in boxes]
        keep: list[int] = []
        spent = 0.0
        for i in sorted(range(len(boxes)), key=lambda i: -extents[i][1]):
            cost = extents[i][0] / extents[i][1]
            if (max_lines and len(keep) >= max_lines) or (max_widths and spent + cost > max_widths):
                continue
            keep.append(i)
            spent += cost
        return [boxes[i] for i in sorted(keep)], elapsed
    return capped


def _read(ocr: Any, rgb: Any) -> list[dict[str, Any]]:
    result, _ = ocr(np.ascontiguousarray(rgb[..., ::-1]))
    return [{"text": str(text), "score": round(float(score), 6),
             "box": [[round(float(x), 1), round(float(y), 1)] for x, y in box]}
            for box, text, score in (result or [])]


class TritonPythonModel:
    def initialize(self, args):  # type: ignore[no-untyped-def]
        parameters = json.loads(args["model_config"]).get("parameters", {})
        max_lines = int(parameters.get("max_lines", {}).get("string_value", "0") or 0)
        max_widths = float(parameters.get("max_widths", {}).get("string_value", "0") or 0)
        self.request = None
        self.ocr = RapidOCR()
        self.ocr.text_det.infer = _OnTriton("ocr_det", "x", self._cancelled)
        self.ocr.text_cls.infer = _OnTriton("ocr_cls", "x", self._cancelled)
        self.ocr.text_rec.session = _OnTriton("ocr_rec", "x", self._cancelled)
        self.ocr.auto_text_det = _largest(self.ocr.auto_text_det, max_lines, max_widths)

    def _cancelled(self) -> bool:
        return self.request is not None and bool(self.request.is_cancelled())

    def execute(self, requests):  # type: ignore[no-untyped-def]
        responses = []
        for request in requests:
            self.request = request
            images = pb_utils.get_input_tensor_by_name(request, "images").as_numpy()
            try:
                texts = [json.dumps(_read(self.ocr, image)).encode() for image in images]
            except Cancelled:
                code = getattr(pb_utils.TritonError, "CANCELLED", None)
                error = pb_utils.TritonError("cancelled by the client") if code is None \
                    else pb_utils.TritonError("cancelled by the client", code)
                responses.append(pb_utils.InferenceResponse(error=error))
                continue
            except Exception as exc:
                error = pb_utils.TritonError(f"ocr failed: {exc}")
                responses.append(pb_utils.InferenceResponse(error=error))
                continue
            out = np.array(texts, dtype=np.object_).reshape(len(images), 1)
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("texts", out)]))
        self.request = None
        return responses
