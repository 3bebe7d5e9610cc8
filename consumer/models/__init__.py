"""The served models' contract: what the service sends each model, what comes back, how its
classes map to policy, and under which licences it may be served.

It belongs to the service: the consumer reads it at run time, and the build tooling beside the
service (`triton_models/`, not in the runtime image) renders every `config.pbtxt` from it.
Pure data, importable without torch, onnx or onnxruntime.
"""
