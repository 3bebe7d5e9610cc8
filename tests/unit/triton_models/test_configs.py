"""Every rendered config.pbtxt parses as Triton's ModelConfig and agrees with its spec."""

from __future__ import annotations

from typing import Any

import pytest
from tritonclient.grpc import model_config_pb2 as pb

from consumer.models.specs import SPECS, ModelSpec, classifier_spec
from triton_models.configs import TARGETS, Target, parse_config, render_config

_ALL_SPECS = [*SPECS.values(), classifier_spec("tags", ("a", "b", "c"))]


def _config(spec: ModelSpec, target: Target) -> Any:
    return parse_config(render_config(spec, target))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("spec", _ALL_SPECS, ids=lambda s: s.name)
def test_config_and_spec_agree_on_names_dtypes_dims_and_batch(spec: ModelSpec,
                                                              target: Target) -> None:
    config = _config(spec, target)
    assert config.name == spec.name
    assert config.max_batch_size == spec.max_batch_size
    (model_input,) = config.input
    assert model_input.name == spec.input_name
    assert model_input.data_type == pb.TYPE_UINT8
    assert model_input.format == pb.ModelInput.FORMAT_NHWC
    assert tuple(model_input.dims) == spec.input_dims
    outputs = {o.name: (o.data_type, tuple(o.dims)) for o in config.output}
    assert outputs == {name: (pb.TYPE_FP32, dims) for name, dims in spec.output_dims().items()}
    scores = next(o for o in config.output if o.name == spec.scores_output)
    assert scores.label_filename == spec.labels_file


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_batches_dynamically_and_rejects_when_the_queue_is_full(
        target: Target) -> None:
    spec = SPECS["nsfw_detector"]
    text = render_config(spec, target)
    batching = parse_config(text).dynamic_batching
    assert tuple(batching.preferred_batch_size) == spec.preferred_batch_sizes
    assert batching.max_queue_delay_microseconds == spec.max_queue_delay_us > 0
    assert batching.default_queue_policy.max_queue_size == spec.max_queue_size > 0
    assert batching.default_queue_policy.timeout_action == pb.ModelQueuePolicy.REJECT
    assert "timeout_action: REJECT" in text
    assert batching.default_queue_policy.allow_timeout_override, "the client's timeout applies"


def test_cpu_target_runs_the_python_backend_on_one_cpu_instance() -> None:
    config = _config(SPECS["nsfw_detector"], "cpu")
    assert config.backend == "python"
    assert [(g.kind, g.count) for g in config.instance_group] == [
        (pb.ModelInstanceGroup.KIND_CPU, 1)]


def test_gpu_target_serves_a_tensorrt_plan_on_gpu_instances_with_warmup() -> None:
    spec = SPECS["nsfw_detector"]
    config = _config(spec, "gpu")
    assert (config.platform, config.backend, config.default_model_filename) == (
        "tensorrt_plan", "tensorrt", "model.plan")
    assert {g.kind for g in config.instance_group} == {pb.ModelInstanceGroup.KIND_GPU}
    warmed = sorted(w.batch_size for w in config.model_warmup)
    assert warmed == sorted({1, *spec.preferred_batch_sizes})
    for warmup in config.model_warmup:
        sample = warmup.inputs[spec.input_name]
        assert sample.data_type == pb.TYPE_UINT8
        assert tuple(sample.dims) == spec.input_dims
        assert sample.zero_data


def test_onnxruntime_target_uses_tensorrt_as_gpu_execution_accelerator() -> None:
    config = _config(SPECS["nsfw_detector"], "onnxruntime")
    assert config.backend == "onnxruntime"
    assert config.default_model_filename == "model.onnx"
    (accelerator,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt"
    assert accelerator.parameters["precision_mode"] == "FP16"
    assert {g.kind for g in config.instance_group} == {pb.ModelInstanceGroup.KIND_AUTO}, \
        "the same target must load on the CPU dev node and on GPU nodes"
    assert len(config.model_warmup) > 0
