"""In-memory decode workers and model for unit tests of the spine: what a video's URI asks for
(nsfw, corrupt, empty, slow, known content) is what it gets, now or when the test releases it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import numpy.typing as npt

from consumer.errors import InferenceError, InferenceTimeout, InferenceUnavailable
from consumer.inference.triton_client import BatchScores
from consumer.media import CorruptMedia, ExtractorQueueFull, Keyframes, ResizeSpec, VideoProbe
from consumer.media.frame_hash import FrameHash
from consumer.models.specs import ModelSpec, get_spec

SPEC = get_spec("nsfw_classifier")  # labels (sfw, nsfw); policy: review 0.5, block 0.8


KNOWN_PDQ = "a" * 64  # the frame hash of videos with `known` in their URI


def keyframes(specs: Sequence[ResizeSpec], value: int, count: int = 3,
              pdq: str = "0" * 64) -> Keyframes:
    probe = VideoProbe(duration_s=float(count), width=64, height=64, fps=1.0, codec="h264",
                       container="mp4", rotation=0, has_audio=False, bit_rate=None,
                       size_bytes=1000)
    frames = {s: np.full((count, s.size, s.size, 3), value, np.uint8) for s in specs}
    return Keyframes(probe, [float(i) for i in range(count)], frames,
                     hashes=[FrameHash(pdq, 100)] * count, hash_s=0.001)


class FakeExtractor:
    """Decodes by URI: `nsfw` in it gives white frames (scored nsfw), `corrupt` a media
    error, `empty` no keyframes, `bug` an unexpected exception; else black frames. With
    `hold`, futures stay pending until `release`."""

    def __init__(self, *, hold: bool = False) -> None:
        self.hold = hold
        self.held: list[tuple[str, Sequence[ResizeSpec], Future[Keyframes]]] = []
        self.submitted: list[str] = []
        self.queue_full = 0

    def submit(self, uri: str, specs: Sequence[ResizeSpec]) -> Future[Keyframes]:
        if self.queue_full:
            self.queue_full -= 1
            raise ExtractorQueueFull("decode queue full")
        self.submitted.append(uri)
        future: Future[Keyframes] = Future()
        if self.hold:
            self.held.append((uri, specs, future))
        else:
            self._resolve(uri, specs, future)
        return future

    def release(self) -> None:
        held, self.held = self.held, []
        for uri, specs, future in held:
            if not future.cancelled():
                self._resolve(uri, specs, future)

    @staticmethod
    def _resolve(uri: str, specs: Sequence[ResizeSpec], future: Future[Keyframes]) -> None:
        if "corrupt" in uri:
            future.set_exception(CorruptMedia("moov atom not found"))
        elif "bug" in uri:
            future.set_exception(ZeroDivisionError("a bug in one video's path"))
        elif "empty" in uri:
            future.set_result(keyframes(specs, 0, count=0))
        elif "slow" in uri:
            future.set_result(keyframes(specs, SLOW_PIXEL))
        else:
            future.set_result(keyframes(specs, 255 if "nsfw" in uri else 0,
                                        pdq=KNOWN_PDQ if "known" in uri else "0" * 64))


SLOW_PIXEL = 7  # the frames of videos with `slow` in their URI: FakeModel can time out on them


class FakeModel:
    """Scores a row nsfw = its mean pixel / 255. `down` answers that many requests with
    InferenceUnavailable; with `hold`, answers wait for `answer`. With `slow`, a batch with a
    `slow` video's row times out (InferenceTimeout); `alive` is what a health probe hears."""

    def __init__(self, spec: ModelSpec = SPEC, *, hold: bool = False) -> None:
        self.spec = spec
        self.hold = hold
        self.down = 0
        self.invalid = 0
        self.requests: list[int] = []  # batch sizes sent
        self.slow = False
        self.alive = True
        self.pending: list[tuple[npt.NDArray[np.uint8], Any]] = []

    def infer_async(self, rows: Sequence[Any],
                    done: Callable[[BatchScores | InferenceError], None]) -> None:
        pixels = np.stack(rows)
        self.requests.append(len(pixels))
        if self.hold:
            self.pending.append((pixels, done))
        else:
            self._answer(pixels, done)

    def answer(self) -> None:
        pending, self.pending = self.pending, []
        for pixels, done in pending:
            self._answer(pixels, done)

    def _answer(self, pixels: npt.NDArray[np.uint8],
                done: Callable[[BatchScores | InferenceError], None]) -> None:
        if self.down:
            self.down -= 1
            done(InferenceUnavailable("triton: connection refused"))
            return
        if self.slow and any(int(p.mean()) == SLOW_PIXEL for p in pixels):
            done(InferenceTimeout("nsfw_classifier:1: StatusCode.DEADLINE_EXCEEDED: Deadline "
                                  "Exceeded"))
            return
        if self.invalid:
            self.invalid -= 1
            done(InferenceError("scores output has the wrong shape"))
            return
        nsfw = pixels.reshape(len(pixels), -1).mean(axis=1) / 255.0
        done(BatchScores(np.stack([1 - nsfw, nsfw], axis=1).astype(np.float32), "1"))

    def ready(self) -> bool:
        return self.alive
