"""Silero VAD in the decode worker: the listener the speech signal hands to the worker.

Why the worker and not Triton (BENCHMARKS.md, "Speech"): the model is stateful (an LSTM
carried from one 32 ms frame to the next), so a served model would need the state sent back
and forth per block, and the 16 kHz PCM (32 kB per second) would leave the worker to reach
it; in the worker the audio is already decoded there, one ONNX call covers 512 frames (16.4 s)
of one stream, and what leaves the worker is a few segments. Its cost is within the
worker's time share for the soundtrack.

The sequence export shipped with silero-vad (`silero_vad_16k_sequence.onnx`, MIT) is used:
bit-exact with the streaming model per its authors, checked here against it in
tests/unit/signals/speech/test_vad.py. One session per worker process, one thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from consumer.signals.speech.segments import FRAME_SAMPLES, SAMPLE_RATE, speech_segments

NAME = "speech"
CONTEXT_SAMPLES = 64  # the tail of the previous frame that each frame is given
BLOCK_FRAMES = 512  # frames per ONNX call (~16.4 s)
_SESSIONS: dict[str, Any] = {}


def shipped_model() -> str:
    """The sequence ONNX file inside the silero-vad package (ModuleNotFoundError without)."""
    return str(resources.files("silero_vad").joinpath("data/silero_vad_16k_sequence.onnx"))


def session(path: str) -> Any:
    """This process's ONNX Runtime session for `path` (made once)."""
    if path not in _SESSIONS:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        _SESSIONS[path] = ort.InferenceSession(path, sess_options=options,
                                               providers=["CPUExecutionProvider"])
    return _SESSIONS[path]


@dataclass(frozen=True)
class SpeechHeard:
    """What the worker found in one stream: segments (start_s, end_s), seconds heard, the
    loudest 32 ms frame (dBFS) and whether segments beyond `max_segments` were dropped."""

    segments: tuple[tuple[float, float], ...]
    heard_s: float
    peak_dbfs: float
    speech_s: float
    segments_cut: bool = False


@dataclass(frozen=True)
class SpeechListener:
    """Picklable (it travels to the workers): the model file and the segment rule."""

    model_path: str
    threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.1
    pad_s: float = 0.03
    max_segments: int = 500
    name: str = NAME
    sample_rate: int = SAMPLE_RATE
    max_streams: int = 1  # the default stream: what a player plays

    def sink(self) -> SpeechSink:
        return SpeechSink(self)


@dataclass
class SpeechSink:
    """Buffers at most one block of samples, runs the model per block, keeps one float per
    32 ms frame (450 kB per hour of audio)."""

    listener: SpeechListener
    _pending: list[npt.NDArray[np.int16]] = field(default_factory=list)
    _pending_n: int = 0
    _context: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(CONTEXT_SAMPLES, np.float32))
    _state: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] = field(
        default_factory=lambda: (np.zeros((1, 1, 128), np.float32),
                                 np.zeros((1, 1, 128), np.float32)))
    _probabilities: list[npt.NDArray[np.float32]] = field(default_factory=list)
    _samples: int = 0
    _peak_rms: float = 0.0

    def feed(self, samples: npt.NDArray[np.int16]) -> None:
        self._pending.append(samples)
        self._pending_n += samples.size
        self._samples += samples.size
        if self._pending_n >= BLOCK_FRAMES * FRAME_SAMPLES:
            self._run(final=False)

    def _run(self, *, final: bool) -> None:
        audio = np.concatenate(self._pending).astype(np.float32) / 32768.0 if self._pending \
            else np.zeros(0, np.float32)
        frames = audio.size // FRAME_SAMPLES if not final else math.ceil(
            audio.size / FRAME_SAMPLES)
        rest = audio[frames * FRAME_SAMPLES:]
        self._pending = [np.round(rest * 32768.0).astype(np.int16)] if rest.size else []
        self._pending_n = rest.size
        if frames == 0:
            return
        block = np.zeros((frames, FRAME_SAMPLES), np.float32)
        block.reshape(-1)[:min(audio.size, frames * FRAME_SAMPLES)] = \
            audio[:frames * FRAME_SAMPLES]
        self._peak_rms = max(self._peak_rms, float(np.sqrt((block ** 2).mean(axis=1)).max()))
        contexts = np.empty((frames, CONTEXT_SAMPLES), np.float32)
        contexts[0] = self._context
        contexts[1:] = block[:-1, -CONTEXT_SAMPLES:]
        self._context = block[-1, -CONTEXT_SAMPLES:].copy()
        for first in range(0, frames, BLOCK_FRAMES):
            rows = np.concatenate((contexts, block), axis=1)[first:first + BLOCK_FRAMES]
            probabilities, h, c = session(self.listener.model_path).run(
                ["speech_probs", "hn", "cn"],
                {"input": rows, "h": self._state[0], "c": self._state[1]})
            self._state = (h, c)
            self._probabilities.append(np.asarray(probabilities, np.float32).reshape(-1))

    def finish(self) -> SpeechHeard:
        self._run(final=True)
        listener = self.listener
        heard_s = self._samples / SAMPLE_RATE
        probabilities = np.concatenate(self._probabilities) if self._probabilities \
            else np.zeros(0, np.float32)
        segments = speech_segments(
            probabilities, heard_s, threshold=listener.threshold,
            min_speech_s=listener.min_speech_s, min_silence_s=listener.min_silence_s,
            pad_s=listener.pad_s)
        peak = 20 * math.log10(self._peak_rms) if self._peak_rms > 0 else -200.0
        return SpeechHeard(tuple((round(a, 3), round(b, 3))
                                 for a, b in segments[:listener.max_segments]),
                           round(heard_s, 3), round(peak, 1),
                           round(sum(b - a for a, b in segments), 3),
                           len(segments) > listener.max_segments)
