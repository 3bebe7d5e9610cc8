"""Smoke model for the python backend: doubles a uint8 batch into float32."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Stateless: every request maps INPUT to OUTPUT = 2 * INPUT."""

    def execute(self, requests):  # type: ignore[no-untyped-def]
        responses = []
        for request in requests:
            data = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
            doubled = data.astype(np.float32) * 2.0
            out = pb_utils.Tensor("OUTPUT", doubled)
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
