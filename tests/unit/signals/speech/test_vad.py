"""Silero VAD as the worker runs it: the sequence export against the streaming model, and
segment edges on espeak-ng speech (the committed fixture), music, noise and silence."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import av
import numpy as np
import pytest

from consumer.media.soundtrack import hear
from consumer.signals.speech.vad import SpeechHeard, SpeechListener, SpeechSink, shipped_model
from tests.unit.signals.music import sounds
from tests.unit.signals.speech import fixture

ort = pytest.importorskip("onnxruntime")
TOLERANCE_S = 0.3


def _int16(signal: np.ndarray) -> np.ndarray:
    """`sounds` signals are at 22050 Hz; the sink takes 16 kHz."""
    resampled = np.interp(np.arange(0, signal.size, sounds.RATE / 16000),
                          np.arange(signal.size), signal)
    return (np.clip(resampled, -1, 1) * 32767).astype(np.int16)


def _heard(samples: np.ndarray, chunk: int = 4096) -> SpeechHeard:
    sink = SpeechListener(shipped_model()).sink()
    for begin in range(0, samples.size, chunk):
        sink.feed(samples[begin:begin + chunk])
    return sink.finish()


def _fixture_16k() -> np.ndarray:
    with av.open(str(fixture.AUDIO)) as container:
        assert container.streams.audio[0].rate == 16000
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])


def test_the_sequence_model_agrees_with_the_streaming_model_frame_by_frame() -> None:
    samples = _fixture_16k().astype(np.float32) / 32768
    streaming = ort.InferenceSession(
        str(resources.files("silero_vad").joinpath("data/silero_vad.onnx")),
        providers=["CPUExecutionProvider"])
    state, context, expected = np.zeros((2, 1, 128), np.float32), np.zeros(64, np.float32), []
    for begin in range(0, samples.size - 511, 512):
        frame = np.concatenate([context, samples[begin:begin + 512]])[None, :]
        out, state = streaming.run(None, {"input": frame, "state": state,
                                          "sr": np.array(16000, np.int64)})
        expected.append(float(out[0, 0]))
        context = frame[0, -64:]
    sink = SpeechSink(SpeechListener(shipped_model()))
    sink.feed((samples * 32768).astype(np.int16))
    sink.finish()
    got = np.concatenate(sink._probabilities)[:len(expected)]
    assert np.abs(got - np.asarray(expected)).max() <= 1e-4


def test_espeak_sentences_are_found_within_tolerance_of_the_truth() -> None:
    heard = _heard(_fixture_16k())
    signal, truth = fixture.load()
    assert heard.segments
    for start, end in truth:  # each sentence: covered from its start to its end
        inside = [s for s in heard.segments if s[1] > start - TOLERANCE_S
                  and s[0] < end + TOLERANCE_S]
        assert inside, (start, end, heard.segments)
        assert inside[0][0] == pytest.approx(start, abs=TOLERANCE_S)
        assert inside[-1][1] == pytest.approx(end, abs=TOLERANCE_S)
    outside = [s for s in heard.segments if not any(
        s[0] >= a - TOLERANCE_S and s[1] <= b + TOLERANCE_S for a, b in truth)]
    assert outside == []
    assert heard.heard_s == pytest.approx(signal.size / sounds.RATE, abs=0.01)


def test_feeding_in_any_chunk_sizes_gives_the_same_segments() -> None:
    samples = _fixture_16k()
    assert _heard(samples, 1000) == _heard(samples, 300_000)


def test_music_noise_and_silence_hold_little_or_no_speech() -> None:
    music = _heard(_int16(sounds.track(5, 20.0)))
    noise = _heard(_int16(sounds.noise(20.0)))
    silence = _heard(np.zeros(16000 * 10, np.int16))
    assert music.speech_s / music.heard_s < 0.1
    assert noise.speech_s / noise.heard_s < 0.1
    assert silence.segments == () and silence.peak_dbfs < -100


def test_the_worker_hears_the_default_stream_through_the_listener(tmp_path: Path) -> None:
    clip = tmp_path / "speech.m4a"
    signal, truth = fixture.load()
    sounds.write(clip, signal)
    with av.open(str(clip)) as container:
        heard = hear(container, 4, 3600.0, fingerprint=False,
                     listeners=(SpeechListener(shipped_model()),))
    (value,) = heard.listened["speech"]
    assert heard.status == "ok" and heard.fingerprints == ()
    assert isinstance(value.value, SpeechHeard)
    assert value.value.segments[0][0] == pytest.approx(truth[0][0], abs=TOLERANCE_S)
    assert value.value.segments[-1][1] == pytest.approx(truth[-1][1], abs=TOLERANCE_S)
