"""The OCR part of the repository: three networks from the rapidocr wheel and the `ocr` BLS
model, for each target, with configs Triton would accept."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

from consumer.models.specs import OCR
from triton_models.configs import TARGETS, Target, parse_config
from triton_models.ocr import NETWORKS, OCR_MODELS, write_ocr


@pytest.mark.parametrize("target", TARGETS)
def test_each_target_gets_the_chain_and_its_networks(tmp_path: Path, target: Target) -> None:
    write_ocr(tmp_path, target)
    assert {p.name for p in tmp_path.iterdir()} == set(OCR_MODELS)
    reader = parse_config((tmp_path / "ocr" / "config.pbtxt").read_text())
    assert reader.backend == "python" and reader.max_batch_size == OCR.max_batch_size
    assert list(reader.input[0].dims) == list(OCR.input_dims)
    assert (tmp_path / "ocr" / "1" / "model.py").exists()
    policy = reader.dynamic_batching.default_queue_policy
    assert policy.allow_timeout_override and policy.max_queue_size == OCR.max_queue_size > 0
    assert reader.parameters["max_lines"].string_value == str(OCR.max_text_lines) != "0"
    assert reader.parameters["max_widths"].string_value == str(OCR.max_text_widths) != "0"
    for network in NETWORKS:
        folder = tmp_path / network.name
        config = parse_config((folder / "config.pbtxt").read_text())
        assert config.backend == ("python" if target == "cpu" else "onnxruntime")
        assert (folder / "1" / "model.py").exists() == (target == "cpu")
        session = ort.InferenceSession(str(folder / "1" / "model.onnx"))
        assert [i.name for i in session.get_inputs()] == [config.input[0].name]
        assert [o.name for o in session.get_outputs()] == [config.output[0].name]
        assert len(session.get_inputs()[0].shape) == len(config.input[0].dims)
