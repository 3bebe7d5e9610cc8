"""`ocr`: on-screen text of uint8 RGB frames, as RapidOCR reads it, on Triton.

A python-backend (BLS) model: RapidOCR from the rapidocr-onnxruntime wheel does its own pre-
and post-processing (resize, DB box extraction, crops, direction, CTC decoding), and each of
its three networks runs as a Triton model (`ocr_det`, `ocr_cls`, `ocr_rec`) through BLS
requests, so the reference code is the served code and only where the networks run differs.

Input `images` [B, H, W, 3] uint8 RGB; output `texts` [B, 1] BYTES: per image a JSON array of
{"text", "score", "box": [[x, y] x 4]} in the image's pixels. RapidOCR takes BGR arrays (what
cv2 reads, what PaddleOCR trained on): the channels are swapped here.
"""

import json
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils
from rapidocr_onnxruntime import RapidOCR


class _OnTriton:
    """Stands in for RapidOCR's onnxruntime session: the same ONNX, run by Triton."""

    def __init__(self, model: str, input_name: str) -> None:
        self.model = model
        self.input_name = input_name

    def __call__(self, batch: Any) -> list[Any]:
        request = pb_utils.InferenceRequest(
            model_name=self.model,
            inputs=[pb_utils.Tensor(self.input_name, np.ascontiguousarray(batch, np.float32))],
            requested_output_names=[])
        response = request.exec()
        if response.has_error():
            raise pb_utils.TritonModelException(f"{self.model}: {response.error().message()}")
        return [tensor.as_numpy() for tensor in response.output_tensors()]


def _read(ocr: Any, rgb: Any) -> list[dict[str, Any]]:
    result, _ = ocr(np.ascontiguousarray(rgb[..., ::-1]))
    return [{"text": str(text), "score": round(float(score), 6),
             "box": [[round(float(x), 1), round(float(y), 1)] for x, y in box]}
            for box, text, score in (result or [])]


class TritonPythonModel:
    def initialize(self, args):  # type: ignore[no-untyped-def]
        self.ocr = RapidOCR()
        self.ocr.text_det.infer = _OnTriton("ocr_det", "x")
        self.ocr.text_cls.infer = _OnTriton("ocr_cls", "x")
        self.ocr.text_rec.session = _OnTriton("ocr_rec", "x")

    def execute(self, requests):  # type: ignore[no-untyped-def]
        responses = []
        for request in requests:
            images = pb_utils.get_input_tensor_by_name(request, "images").as_numpy()
            try:
                texts = [json.dumps(_read(self.ocr, image)).encode() for image in images]
            except Exception as exc:
                error = pb_utils.TritonError(f"ocr failed: {exc}")
                responses.append(pb_utils.InferenceResponse(error=error))
                continue
            out = np.array(texts, dtype=np.object_).reshape(len(images), 1)
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("texts", out)]))
        return responses
