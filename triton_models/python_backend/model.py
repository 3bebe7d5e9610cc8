"""Python-backend model for the `cpu` target: runs `model.onnx` beside it with onnxruntime.

Copied into `<repo>/<model>/<version>/`. Generic over the model: input and output names come
from the model's config. Requests that Triton's dynamic batcher hands over together are run as
one onnxruntime batch and split back per request.
"""

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """One onnxruntime session per model instance."""

    def initialize(self, args):  # type: ignore[no-untyped-def]
        config = json.loads(args["model_config"])
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        options = ort.SessionOptions()
        # Spinning intra-op threads would steal the cores Triton's own threads need between
        # batches; the in-process peer has no such neighbours.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = config["input"][0]["name"]
        self.output_names = [output["name"] for output in config["output"]]

    def execute(self, requests):  # type: ignore[no-untyped-def]
        batches = [pb_utils.get_input_tensor_by_name(r, self.input_name).as_numpy()
                   for r in requests]
        try:
            outputs = self.session.run(self.output_names,
                                       {self.input_name: np.concatenate(batches)})
        except Exception as exc:
            error = pb_utils.TritonError(f"onnxruntime failed: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        start = 0
        for batch in batches:
            end = start + len(batch)
            tensors = [pb_utils.Tensor(name, np.ascontiguousarray(out[start:end]))
                       for name, out in zip(self.output_names, outputs, strict=True)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start = end
        return responses
