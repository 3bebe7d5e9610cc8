"""Generated audio for the music tests and bench/audio_match.py: no recorded music anywhere.

A "track" is a seeded random piece: a chord progression with bass, a fast melody and a
hi-hat, each voice with its own harmonics and decay. Speech comes from espeak-ng when it is
installed, else from synthetic babble (formant-filtered pulse trains). Signals are float32 in
[-1, 1] at `RATE`.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

RATE = 22050
Signal = npt.NDArray[np.float32]

_SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 3, 5, 7, 9, 10))
SENTENCES = (
    "The quick brown fox jumps over the lazy dog while the rain keeps falling on the town.",
    "Please remember to bring your passport, two photographs and the signed form tomorrow.",
    "In the morning we walked along the river and counted seventeen boats near the bridge.",
    "She said the meeting would start at nine, but nobody arrived before half past ten.",
    "Numbers like four hundred and twelve are easier to hear than to read in a hurry.",
)


def _note(freq: float, length_s: float, table: npt.NDArray[np.float64], decay: float,
          ) -> npt.NDArray[np.float64]:
    """One note from a one-period wavetable (the voice's harmonics), with attack and decay."""
    t = np.arange(int(length_s * RATE)) / RATE
    index = (np.mod(freq * t, 1.0) * table.size).astype(np.intp)
    envelope = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (length_s - t) / 0.02) * \
        np.exp(-decay * t)
    out: npt.NDArray[np.float64] = table[index] * envelope
    return out


def _wavetable(harmonics: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    phase = np.arange(2048) / 2048
    return sum((amp / k * np.sin(2 * np.pi * k * phase)
                for k, amp in enumerate(harmonics, start=1)), np.zeros(2048))


def _midi(note: int) -> float:
    return float(440.0 * 2 ** ((note - 69) / 12))


def track(seed: int, duration_s: float) -> Signal:
    """A distinct, deterministic piece of music for `seed`."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / rng.uniform(80, 150)
    root = int(rng.integers(0, 12))
    scale = _SCALES[int(rng.integers(0, len(_SCALES)))]
    pitches = [root + 12 * (k // 7) + scale[k % 7] for k in range(28)]  # semitones up from C
    out = np.zeros(int(duration_s * RATE) + RATE, dtype=np.float64)
    voices = {name: (_wavetable(rng.uniform(0.2, 1.0, size=int(rng.integers(3, 7)))),
                     rng.uniform(0.5, 4.0)) for name in ("chord", "bass", "melody")}

    def add(start_s: float, length_s: float, note: int, voice: str, gain: float) -> None:
        table, decay = voices[voice]
        wave = gain * _note(_midi(note), length_s, table, decay)
        begin = min(int(start_s * RATE), out.size)
        end = min(out.size, begin + wave.size)
        out[begin:end] += wave[:end - begin]

    now = 0.0
    while now < duration_s:
        degree = int(rng.integers(0, 7))
        length = beat * float(rng.choice([1, 2, 2, 4]))
        for third in (0, 2, 4):
            add(now, length, 55 + pitches[degree + third], "chord", 0.25)
        add(now, length, 36 + pitches[degree], "bass", 0.4)
        step = 0.0
        while step < length:
            note_len = beat * float(rng.choice([0.25, 0.5, 0.5, 1.0]))
            add(now + step, note_len, 55 + pitches[7 + int(rng.integers(0, 14))], "melody", 0.3)
            step += note_len
        now += length
    hats = np.arange(0.0, duration_s, beat / 2)
    for hat in hats:
        begin = int(hat * RATE)
        n = min(int(0.05 * RATE), out.size - begin)
        out[begin:begin + n] += 0.05 * rng.standard_normal(n) * np.exp(-np.arange(n) / 200)
    out = out[:int(duration_s * RATE)]
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


@functools.cache
def speech(duration_s: float) -> Signal:
    """Spoken sentences looped to `duration_s`: espeak-ng if installed, else babble."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return babble(duration_s)
    parts = []
    with tempfile.TemporaryDirectory() as folder:
        for index, sentence in enumerate(SENTENCES):
            wav = Path(folder) / f"{index}.wav"
            voice = ("en-us", "en", "en-us+f3", "en+m3", "en-us+f2")[index]
            subprocess.run([espeak, "-v", voice, "-s", "165", "-w", str(wav), sentence],
                           check=True, capture_output=True)
            parts.append(read(wav))
            parts.append(np.zeros(int(0.3 * RATE), dtype=np.float32))
    voice_loop = np.concatenate(parts)
    reps = int(np.ceil(duration_s * RATE / voice_loop.size))
    looped = np.tile(voice_loop, reps)[:int(duration_s * RATE)]
    return (0.8 * looped / np.max(np.abs(looped))).astype(np.float32)


def babble(duration_s: float, seed: int = 7) -> Signal:
    """Speech-like noise: pulse trains with a wandering pitch through moving formants."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * RATE)
    pitch = 120 + 30 * np.sin(np.cumsum(rng.normal(0, 0.002, n)))
    phase = np.cumsum(pitch / RATE)
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
    spectrum = np.fft.rfft(pulses)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    shaped = np.zeros_like(spectrum)
    for centre in (500, 1500, 2500):
        shaped += spectrum * np.exp(-((freqs - centre * rng.uniform(0.8, 1.2)) / 200) ** 2)
    out = np.fft.irfft(shaped, n)
    syllables = (np.sin(2 * np.pi * 4 * np.arange(n) / RATE) > -0.3).astype(np.float64)
    out *= syllables
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def noise(duration_s: float, seed: int = 11) -> Signal:
    rng = np.random.default_rng(seed)
    return (0.3 * rng.standard_normal(int(duration_s * RATE))).astype(np.float32)


def mix(music: Signal, interference: Signal, snr_db: float) -> Signal:
    """`music` over `interference` (same length) at a music-to-interference ratio in dB."""
    p_music = float(np.mean(music.astype(np.float64) ** 2))
    p_other = float(np.mean(interference.astype(np.float64) ** 2))
    gain = np.sqrt(p_music / (p_other * 10 ** (snr_db / 10)))
    out = music + gain * interference
    return (0.9 * out / np.max(np.abs(out))).astype(np.float32)


def place(background: Signal, music: Signal, at_s: float, snr_db: float) -> Signal:
    """`background` with `music` mixed in from `at_s`, at `snr_db` over that stretch."""
    out = background.copy()
    begin = int(at_s * RATE)
    region = out[begin:begin + music.size]
    p_music = float(np.mean(music.astype(np.float64) ** 2))
    p_other = float(np.mean(region.astype(np.float64) ** 2))
    gain = np.sqrt(p_music / (p_other * 10 ** (snr_db / 10))) if p_other > 0 else 1.0
    out *= gain  # the background keeps its level relative to the music everywhere
    out[begin:begin + music.size] += music
    return (0.9 * out / np.max(np.abs(out))).astype(np.float32)


def write(path: Path, signal: Signal, bitrate: int = 128_000) -> Path:
    """An audio file: `.wav` (PCM) or `.m4a` (AAC at `bitrate`), chosen by the suffix."""
    codec = "pcm_s16le" if path.suffix == ".wav" else "aac"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=RATE, layout="mono")
        if codec == "aac":
            stream.bit_rate = bitrate
        samples = (np.clip(signal, -1, 1) * 32767).astype(np.int16)
        frame_size = 1024
        for begin in range(0, samples.size, frame_size):
            chunk = samples[begin:begin + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = RATE
            frame.pts = begin
            frame.time_base = Fraction(1, RATE)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def read(path: Path) -> Signal:
    """A file's audio as mono float32 at `RATE`."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return (np.concatenate(chunks).astype(np.float32) / 32768).astype(np.float32)


def white(seed: int, duration_s: float, level: float, rate: int = RATE) -> Signal:
    """White noise of standard deviation `level`, at `rate`."""
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(duration_s * rate))).astype(np.float32)


def coloured(seed: int, duration_s: float, level: float, rate: int = RATE,
             power: float = 1.0) -> Signal:
    """1/f**power noise (pink: 1, brown: 2) of standard deviation `level`, at `rate`."""
    n = int(duration_s * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    spectrum[1:] /= freqs[1:] ** (power / 2)
    spectrum[0] = 0
    out = np.fft.irfft(spectrum, n)
    return (level * out / out.std()).astype(np.float32)


def tone(freq: float, duration_s: float, level: float, rate: int = RATE) -> Signal:
    return (level * np.sin(2 * np.pi * freq * np.arange(int(duration_s * rate)) / rate)
            ).astype(np.float32)


def pcm16(signal: Signal) -> npt.NDArray[np.int16]:
    return (np.clip(signal, -1, 1) * 32767).astype(np.int16)


def with_soundtracks(video: Path, soundtracks: list[Signal | None], out: Path, *,
                     default: int | None = None) -> Path:
    """`video`'s frames (stream-copied) with one AAC stream per soundtrack, in order (stream
    1, 2, ... after the video's 0); None makes a stream of garbage packets no decoder takes.
    `default` flags that soundtrack's stream as the default one, and no other."""
    with av.open(str(video)) as source, av.open(str(out), "w") as container:
        video_in = source.streams.video[0]
        video_out = container.add_stream_from_template(video_in)
        streams = []
        for k in range(len(soundtracks)):
            stream = container.add_stream("aac", rate=RATE, layout="mono")
            stream.bit_rate = 96_000
            if default is not None:
                stream.disposition = av.stream.Disposition.default if k == default \
                    else av.stream.Disposition(0)
            streams.append(stream)
        for packet in source.demux(video_in):
            if packet.dts is not None:
                packet.stream = video_out
                container.mux(packet)
        for stream, signal in zip(streams, soundtracks, strict=True):
            if signal is None:
                _mux_garbage(container, stream)
            else:
                _mux_signal(container, stream, signal)
    return out


def _mux_signal(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
                signal: Signal) -> None:
    samples = pcm16(signal)
    for begin in range(0, samples.size, 1024):
        frame = av.AudioFrame.from_ndarray(samples[None, begin:begin + 1024], format="s16",
                                           layout="mono")
        frame.sample_rate, frame.pts = RATE, begin
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _mux_garbage(container: av.container.OutputContainer,
                 stream: av.audio.stream.AudioStream) -> None:
    """Packets of random bytes in an AAC stream: it demuxes, it never decodes."""
    rng = np.random.default_rng(3)
    for k in range(200):
        packet = av.Packet(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
        packet.stream = stream
        packet.pts = packet.dts = k * 1024
        packet.time_base = Fraction(1, RATE)
        container.mux(packet)
