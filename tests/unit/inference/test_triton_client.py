"""The Triton edge: text outputs read strictly (anything else fails closed as an InferenceError
for that batch), and server errors mapped to retry or fail."""

from __future__ import annotations

import json

import numpy as np
import pytest

from consumer.inference.triton_client import TextRead, parse_texts


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
    from triton_models.specs import NSFW_CLASSIFIER

    error = map_triton_error(_Error(status), NSFW_CLASSIFIER)
    assert isinstance(error, InferenceUnavailable) == retried
