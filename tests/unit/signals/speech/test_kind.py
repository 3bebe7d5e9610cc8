"""The content kind rule, as README documents it."""

from __future__ import annotations

import pytest

from consumer.signals.speech.kind import content_kind


@pytest.mark.parametrize(("speech", "music", "kind"), [
    (0.8, 0.0, "spoken"),
    (0.0, 0.9, "music"),
    (0.3, 0.9, "music"),  # singing taken for speech does not make a song mixed
    (0.6, 0.9, "mixed"),
    (0.7, 0.2, "mixed"),
    (0.3, 0.3, "mixed"),
    (0.3, 0.0, "other"),
    (0.0, 0.0, "other"),
    (0.05, 0.3, "other"),
])
def test_kind_by_shares(speech: float, music: float, kind: str) -> None:
    assert content_kind(heard_s=30.0, loud=True, speech=speech, music=music) == kind


def test_nothing_heard_or_nothing_loud_is_silent() -> None:
    assert content_kind(heard_s=0.0, loud=True, speech=0.0, music=0.0) == "silent"
    assert content_kind(heard_s=30.0, loud=False, speech=0.9, music=0.0) == "silent"


def test_the_shares_are_settings() -> None:
    assert content_kind(heard_s=30.0, loud=True, speech=0.4, music=0.0, major=0.3) == "spoken"
