"""The Triton edge: text outputs read strictly (anything else fails closed as an InferenceError
for that batch), and server errors mapped to retry or fail."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from consumer.errors import InferenceError, InferenceUnavailable
from consumer.inference.triton_client import TextRead, parse_texts
from consumer.models.specs import get_spec


def _raw(*images: object) -> np.ndarray:
    return np.array([json.dumps(i).encode() for i in images], dtype=object).reshape(-1, 1)


def test_lines_with_text_score_and_box_per_image() -> None:
    box = [[1, 2], [30, 2], [30, 12], [1, 12]]
    texts = parse_texts(_raw([{"text": "Hi", "score": 0.9, "box": box}], []), 2)
    assert texts == [[TextRead("Hi", 0.9, ((1.0, 2.0), (30.0, 2.0), (30.0, 12.0),
                                           (1.0, 12.0)))], []]


@pytest.mark.parametrize("raw", [
    _raw([]),  # one result for two images
    _raw({"text": "x"}, []),  # not an array
    _raw([{"text": "x"}], []),  # no score or box
    np.array([b"not json", b"[]"], dtype=object),
])
def test_a_malformed_result_is_refused(raw: np.ndarray) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_texts(raw, 2)


class _Error(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self._status = status

    def status(self) -> str:
        return self._status

    def message(self) -> str:
        return f"{self._status}: from the server"


@pytest.mark.parametrize(("status", "retried"), [
    ("StatusCode.UNAVAILABLE", True), ("StatusCode.NOT_FOUND", True),
    ("StatusCode.DEADLINE_EXCEEDED", True), ("StatusCode.INVALID_ARGUMENT", False),
])
def test_a_model_the_server_lacks_is_an_outage_not_the_videos_fault(status: str,
                                                                    retried: bool) -> None:
    from consumer.errors import InferenceUnavailable
    from consumer.inference.triton_client import map_triton_error
    from consumer.models.specs import NSFW_CLASSIFIER

    error = map_triton_error(_Error(status), NSFW_CLASSIFIER)
    assert isinstance(error, InferenceUnavailable) == retried


class _Sent:
    """What `async_infer` was given, and a way to answer it."""

    def __init__(self) -> None:
        self.inputs: list[Any] = []
        self.callback: Any = None
        self.raise_on_send: Exception | None = None

    def async_infer(self, model: str, inputs: list[Any], callback: Any, **kwargs: Any) -> None:
        if self.raise_on_send is not None:
            raise self.raise_on_send
        self.inputs, self.callback, self.kwargs = inputs, callback, kwargs


def _client_with_slots(sent: _Sent, triton: Any = None) -> tuple[Any, list[Any]]:
    from consumer.inference.triton_client import TritonModelClient
    from tests.unit.inference.test_cuda_slots import FakeTriton, HostRegions, _slots

    registry = triton or FakeTriton()
    client = TritonModelClient("127.0.0.1:1", SPEC, 1.0,
                               slots=lambda _grpc: _slots(registry, HostRegions()))
    client._client = sent  # type: ignore[assignment]
    outcomes: list[Any] = []
    return client, outcomes


SPEC_NAME = "nsfw_classifier"
SPEC = get_spec(SPEC_NAME)


def test_with_slots_the_request_names_the_region_and_the_answer_frees_it() -> None:
    sent = _Sent()
    client, outcomes = _client_with_slots(sent)
    rows = [np.full(tuple(SPEC.input_dims), i, np.uint8) for i in range(3)]
    client.infer_async(rows, outcomes.append)
    (tensor,) = sent.inputs
    params = tensor._get_tensor().parameters
    slot = client.slots.slots[0]
    assert params["shared_memory_region"].string_param == slot.name
    assert params["shared_memory_byte_size"].int64_param == 3 * int(np.prod(SPEC.input_dims))
    assert tensor._get_content() is None  # no pixels in the request
    assert client.slots.registered and client.slots.free == len(client.slots.slots) - 1
    sent.callback(None, _Error("StatusCode.INVALID_ARGUMENT"))
    assert client.slots.free == len(client.slots.slots)
    assert isinstance(outcomes[0], InferenceError)
    assert not isinstance(outcomes[0], InferenceUnavailable)


def test_a_triton_that_forgot_the_regions_is_retried_after_registering_again() -> None:
    sent = _Sent()
    client, outcomes = _client_with_slots(sent)
    client.infer_async([np.zeros(tuple(SPEC.input_dims), np.uint8)], outcomes.append)
    error = _Error("StatusCode.NOT_FOUND")
    error.message = lambda: "Unable to find shared memory region: 'x'"  # type: ignore[method-assign]
    sent.callback(None, error)
    assert isinstance(outcomes[0], InferenceUnavailable)
    assert not client.slots.registered  # registered again before the next batch


def test_a_request_that_cannot_be_built_frees_its_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _Sent()
    client, outcomes = _client_with_slots(sent)

    def refuse(*args: Any) -> None:
        raise RuntimeError("no shared memory input")

    monkeypatch.setattr(client._grpc.InferInput, "set_shared_memory", refuse)
    with pytest.raises(RuntimeError):
        client.infer_async([np.zeros(tuple(SPEC.input_dims), np.uint8)], outcomes.append)
    assert client.slots.free == len(client.slots.slots) and outcomes == []


def test_a_request_that_cannot_be_sent_frees_its_slot() -> None:
    sent = _Sent()
    sent.raise_on_send = _Error("StatusCode.UNAVAILABLE")
    client, outcomes = _client_with_slots(sent)
    client.infer_async([np.zeros(tuple(SPEC.input_dims), np.uint8)], outcomes.append)
    assert isinstance(outcomes[0], InferenceUnavailable)
    assert client.slots.free == len(client.slots.slots)


def test_a_triton_refusing_registration_is_an_outage_for_the_batch() -> None:
    from tests.unit.inference.test_cuda_slots import FakeTriton

    class Refusing(FakeTriton):
        def register_cuda_shared_memory(self, *args: Any, **kwargs: Any) -> None:
            raise _Error("StatusCode.UNAVAILABLE")

    sent = _Sent()
    client, outcomes = _client_with_slots(sent, Refusing())
    client.infer_async([np.zeros(tuple(SPEC.input_dims), np.uint8)], outcomes.append)
    assert isinstance(outcomes[0], InferenceUnavailable)
    assert sent.inputs == [] and client.slots.free == len(client.slots.slots)


def test_without_slots_device_rows_are_sent_as_host_pixels() -> None:
    import torch

    from consumer.inference.triton_client import TritonModelClient

    sent = _Sent()
    client = TritonModelClient("127.0.0.1:1", SPEC, 1.0)
    client._client = sent  # type: ignore[assignment]
    rows = [torch.full(tuple(SPEC.input_dims), 7, dtype=torch.uint8), np.zeros(
        tuple(SPEC.input_dims), np.uint8)]
    client.infer_async(rows, lambda _: None)
    (tensor,) = sent.inputs
    assert tensor.shape() == [2, *SPEC.input_dims]
    pixels = np.frombuffer(tensor._get_content(), np.uint8).reshape(2, *SPEC.input_dims)
    assert pixels[0].min() == 7 and pixels[1].max() == 0


def test_no_answer_in_time_is_a_timeout_for_the_pipeline_to_judge() -> None:
    from consumer.errors import InferenceTimeout
    from consumer.inference.triton_client import map_triton_error

    assert isinstance(map_triton_error(_Error("StatusCode.DEADLINE_EXCEEDED"), SPEC),
                      InferenceTimeout)
    assert not isinstance(map_triton_error(_Error("StatusCode.UNAVAILABLE"), SPEC),
                          InferenceTimeout)


def test_the_request_carries_the_timeout_to_tritons_queue_in_microseconds() -> None:
    from consumer.inference.triton_client import TritonModelClient

    sent = _Sent()
    client = TritonModelClient("127.0.0.1:1", SPEC, 2.5)
    client._client = sent  # type: ignore[assignment]
    client.infer_async(np.zeros((1, *SPEC.input_dims), np.uint8), lambda outcome: None)
    assert sent.kwargs["client_timeout"] == 2.5 and sent.kwargs["timeout"] == 2_500_000


def test_a_text_reader_answer_is_bounded_in_lines_and_characters() -> None:
    from consumer.inference.triton_client import MAX_TEXT_CHARS, parse_texts

    line = {"text": "é" * 5000, "score": 0.9, "box": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    raw = np.array([[json.dumps([line] * 900).encode()]], dtype=object)
    (lines,) = parse_texts(raw, 1, max_lines=64)
    assert len(lines) == 64 and all(len(x.text) == MAX_TEXT_CHARS for x in lines)
    assert len(parse_texts(raw, 1)[0]) == 900, "no cap unless the spec sets one"
