"""The served OCR chain (`ocr` BLS -> `ocr_det`, `ocr_cls`, `ocr_rec` on the real tritonserver)
against RapidOCR from the same wheel, on frames with rendered text as the pipeline sends them.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image
from rapidocr_onnxruntime import RapidOCR

from consumer.errors import InferenceError
from consumer.inference.triton_client import BatchScores, TextRead, TritonModelClient
from consumer.models.specs import OCR
from tests.integration.conftest import RunningStack
from tests.unit.triton_models.ocr_samples import as_sent, cer, scenes


def _serve(stack: RunningStack, frames: np.ndarray) -> BatchScores:
    client = TritonModelClient(stack.addresses.triton_grpc, OCR, timeout_s=300)
    done = threading.Event()
    box: list[BatchScores | InferenceError] = []
    client.infer_async(frames, lambda result: (box.append(result), done.set()))
    assert done.wait(320)
    client.close()
    result = box[0]
    assert isinstance(result, BatchScores), result
    return result


def _reference(frame: np.ndarray) -> list[TextRead]:
    """RapidOCR given the frame as an image, which it turns into the BGR its networks were
    trained on by itself: no channel order of ours is assumed."""
    result, _ = RapidOCR()(Image.fromarray(frame))
    return [TextRead(text, float(score), tuple((float(x), float(y)) for x, y in box))
            for box, text, score in (result or [])]


@pytest.fixture(scope="module")
def samples() -> dict[str, tuple[np.ndarray, list[str]]]:
    return {name: (as_sent(frame), truth) for name, (frame, truth) in scenes().items()}


def test_the_served_chain_reads_what_rapidocr_reads(
    stack: RunningStack, samples: dict[str, tuple[np.ndarray, list[str]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = list(samples)
    frames = np.stack([samples[n][0] for n in names])
    served = _serve(stack, frames)
    assert served.texts is not None and len(served.texts) == len(names)
    assert served.scores.shape == (len(names), 0) and served.model_version == "1"
    rates = []
    for name, lines in zip(names, served.texts, strict=True):
        reference = _reference(samples[name][0])
        assert [line.text for line in lines] == [line.text for line in reference], name
        for ours, theirs in zip(lines, reference, strict=True):
            assert abs(ours.score - theirs.score) < 1e-3, name
            assert np.allclose(ours.box, theirs.box, atol=1.0), name
        truth = " ".join(samples[name][1])
        read = " ".join(line.text for line in lines)
        rates.append((name, cer(truth, read)))
    with capsys.disabled():
        for name, rate in rates:
            print(f"\n[ocr] {name}: character error rate vs the rendered text {rate:.3f}")
    assert all(rate <= 0.15 for _, rate in rates), rates
    assert sum(rate for _, rate in rates) / len(rates) <= 0.05


def test_a_frame_without_text_reads_nothing(stack: RunningStack) -> None:
    served = _serve(stack, np.zeros((2, OCR.input_size, OCR.input_size, 3), np.uint8))
    assert served.texts == [[], []]
