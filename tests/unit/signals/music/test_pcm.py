"""Soundtracks decoded to Chromaprint's input: mono int16 at 11025 Hz, bounded in length."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from consumer.media.chromaprint import SAMPLE_RATE
from consumer.media.pcm import file_pcm, soundtrack_pcm
from tests.unit.media.videos import make_video
from tests.unit.signals.music import sounds


def _stereo_44k(path: Path, seconds: float) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100, layout="stereo")
        t = np.arange(int(seconds * 44100)) / 44100
        tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
        planar = np.stack([tone, tone])
        for begin in range(0, tone.size, 1024):
            frame = av.AudioFrame.from_ndarray(planar[:, begin:begin + 1024].copy(),
                                               format="s16p", layout="stereo")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_a_stereo_44k_soundtrack_comes_back_mono_at_11025_hz(tmp_path: Path) -> None:
    pcm = file_pcm(_stereo_44k(tmp_path / "tone.m4a", 3.0))
    assert pcm is not None and pcm.dtype == np.int16 and pcm.ndim == 1
    assert pcm.size == pytest.approx(3.0 * SAMPLE_RATE, abs=0.1 * SAMPLE_RATE)
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    assert np.argmax(spectrum) * SAMPLE_RATE / pcm.size == pytest.approx(440, abs=2)


def test_decoding_stops_at_max_duration(tmp_path: Path) -> None:
    path = sounds.write(tmp_path / "piece.wav", sounds.track(3, 6.0))
    with av.open(str(path)) as container:
        pcm = soundtrack_pcm(container, max_duration_s=2.0)
    assert pcm is not None and pcm.size == 2 * SAMPLE_RATE
    whole = file_pcm(path)
    assert whole is not None and whole.size == pytest.approx(6 * SAMPLE_RATE, abs=2)
    np.testing.assert_array_equal(pcm[:SAMPLE_RATE], whole[:SAMPLE_RATE])


def test_a_video_without_audio_has_no_soundtrack(tmp_path: Path) -> None:
    assert file_pcm(make_video(tmp_path / "silent.mp4")) is None


def test_a_file_that_is_not_media_raises_ffmpeg_s_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.m4a"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(av.FFmpegError):
        file_pcm(path)
