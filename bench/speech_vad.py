"""Speech (Silero VAD) cost and edges: `python -m bench.speech_vad`.

Cost per minute of 16 kHz audio on one CPU thread: the sequence export as the decode worker
runs it (one ONNX call per 16.4 s block), and the streaming export called once per 32 ms frame
(what a served model would be asked per frame, before any network or queueing: the floor of a
Triton round trip per frame). Edges: the committed espeak-ng fixture, generated music, noise and
silence, through the same sink.
"""

from __future__ import annotations

import time
from importlib import resources

import numpy as np
import onnxruntime as ort

from consumer.signals.speech.vad import SpeechListener, shipped_model
from tests.unit.signals.music import sounds
from tests.unit.signals.speech import fixture
from tests.unit.signals.speech.test_vad import _fixture_16k, _int16


def _sink_seconds(samples: np.ndarray) -> tuple[float, object]:
    sink = SpeechListener(shipped_model()).sink()
    started = time.perf_counter()
    for begin in range(0, samples.size, 1024):
        sink.feed(samples[begin:begin + 1024])
    heard = sink.finish()
    return time.perf_counter() - started, heard


def _streaming_seconds(samples: np.ndarray) -> float:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    model = ort.InferenceSession(
        str(resources.files("silero_vad").joinpath("data/silero_vad.onnx")), options,
        providers=["CPUExecutionProvider"])
    audio = samples.astype(np.float32) / 32768
    state, context = np.zeros((2, 1, 128), np.float32), np.zeros(64, np.float32)
    started = time.perf_counter()
    for begin in range(0, audio.size - 511, 512):
        frame = np.concatenate([context, audio[begin:begin + 512]])[None, :]
        _, state = model.run(None, {"input": frame, "state": state,
                                    "sr": np.array(16000, np.int64)})
        context = frame[0, -64:]
    return time.perf_counter() - started


def main() -> None:
    minute = np.tile(_fixture_16k(), 5)[:16000 * 60]
    _sink_seconds(minute[:16000])  # session made once per process
    sequence = min(_sink_seconds(minute)[0] for _ in range(3))
    streaming = _streaming_seconds(minute)
    print(f"per minute of audio, one thread: sequence (worker) {sequence * 1000:.0f} ms; "
          f"streaming per 32 ms frame {streaming * 1000:.0f} ms (1875 calls)")
    _, truth = fixture.load()
    _, heard = _sink_seconds(_fixture_16k())
    print("| input | truth (s) | found (s) | speech share |")
    print("|---|---|---|---|")
    segments = heard.segments  # type: ignore[attr-defined]
    print(f"| espeak-ng, 2 sentences | {truth} | {list(segments)} | "
          f"{heard.speech_s / heard.heard_s:.2f} |")  # type: ignore[attr-defined]
    for name, samples in (("generated music (seed 5, 30 s)", _int16(sounds.track(5, 30.0))),
                          ("white noise (30 s)", _int16(sounds.noise(30.0))),
                          ("silence (30 s)", np.zeros(16000 * 30, np.int16))):
        _, found = _sink_seconds(samples)
        print(f"| {name} | none | {list(found.segments)} | "  # type: ignore[attr-defined]
              f"{found.speech_s / found.heard_s:.2f} |")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
