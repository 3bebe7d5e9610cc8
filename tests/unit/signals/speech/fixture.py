"""The speech fixture: two espeak-ng sentences apart, between silences, made once and committed
(data/two_sentences.flac, data/two_sentences.json), so no test needs espeak-ng installed.

Regenerate with `python -m tests.unit.signals.speech.fixture` (needs espeak-ng). The truth
is where each sentence's waveform first and last rises over 1% of full scale.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tests.unit.signals.music import sounds

DATA = Path(__file__).parent / "data"
AUDIO, TRUTH = DATA / "two_sentences.flac", DATA / "two_sentences.json"
SENTENCES = ("Please remember to bring your passport and the signed form tomorrow.",
             "In the morning we walked along the river and counted seventeen boats.")
GAPS_S = (1.5, 2.5, 1.5)  # silence before, between and after the sentences


def load() -> tuple[sounds.Signal, list[tuple[float, float]]]:
    """The soundtrack (float32 at sounds.RATE) and its speech segments (start_s, end_s)."""
    truth = json.loads(TRUTH.read_text())
    return sounds.read(AUDIO), [(float(a), float(b)) for a, b in truth["segments"]]


def _make() -> None:
    espeak = shutil.which("espeak-ng")
    assert espeak is not None, "espeak-ng is not installed"
    parts, segments, now = [], [], 0.0
    with tempfile.TemporaryDirectory() as folder:
        for index, sentence in enumerate(SENTENCES):
            parts.append(np.zeros(int(GAPS_S[index] * sounds.RATE), np.float32))
            now += GAPS_S[index]
            wav = Path(folder) / f"{index}.wav"
            subprocess.run([espeak, "-v", "en-us", "-s", "160", "-w", str(wav), sentence],
                           check=True, capture_output=True)
            voice = sounds.read(wav)
            loud = np.flatnonzero(np.abs(voice) > 0.01)
            segments.append((round(now + loud[0] / sounds.RATE, 3),
                             round(now + loud[-1] / sounds.RATE, 3)))
            parts.append(voice)
            now += voice.size / sounds.RATE
    parts.append(np.zeros(int(GAPS_S[-1] * sounds.RATE), np.float32))
    DATA.mkdir(exist_ok=True)
    signal = np.concatenate(parts)
    with tempfile.TemporaryDirectory() as folder:
        wav = sounds.write(Path(folder) / "a.wav", signal)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-ar", "16000",
                        "-c:a", "flac", str(AUDIO)], check=True)
    TRUTH.write_text(json.dumps({"sentences": SENTENCES, "segments": segments}, indent=1) + "\n")


if __name__ == "__main__":
    _make()
