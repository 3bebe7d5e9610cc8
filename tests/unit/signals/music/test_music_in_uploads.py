"""End to end on generated audio: a 20 s excerpt of a catalogue track, starting mid-track,
placed inside a 60 s upload under speech (espeak-ng) or white noise, is found with its start,
end and place in the track within 1 s; uploads with no catalogue music match nothing.

Uploads go through the service's path: an AAC file, `file_pcm`, `raw_fingerprint`, `match`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from consumer.media.chromaprint import raw_fingerprint
from consumer.media.pcm import file_pcm
from consumer.signals.music.matching import MusicMatch
from tests.unit.signals.music import sounds
from tests.unit.signals.music.conftest import CATALOGUE_SIZE, Music, track_id

UPLOAD_S = 60.0
EXCERPT_S = 20.0


def _matches(music: Music, signal: sounds.Signal, path: Path,
             bitrate: int = 128_000) -> list[MusicMatch]:
    pcm = file_pcm(sounds.write(path, signal, bitrate))
    assert pcm is not None
    return music.index.match(raw_fingerprint(pcm))


def _background(kind: str) -> sounds.Signal:
    return sounds.speech(UPLOAD_S) if kind == "speech" else sounds.noise(UPLOAD_S)


@pytest.mark.parametrize(("kind", "snr_db", "seed", "ref_s", "at_s", "bitrate"), [
    ("speech", 10.0, 7, 9.37, 17.1, 128_000),
    ("speech", 5.0, 23, 4.81, 31.6, 128_000),
    ("noise", 0.0, 41, 12.02, 6.3, 128_000),
    ("speech", 5.0, 10, 7.55, 24.9, 64_000),  # the upload re-encoded to AAC 64 kbit/s
])
def test_an_excerpt_under_speech_or_noise_is_found_where_it_plays(
    music: Music, tmp_path: Path, kind: str, snr_db: float, seed: int, ref_s: float,
    at_s: float, bitrate: int,
) -> None:
    excerpt = music.signal(seed)[int(ref_s * sounds.RATE):int((ref_s + EXCERPT_S) * sounds.RATE)]
    upload = sounds.place(_background(kind), excerpt, at_s, snr_db)
    (match,) = _matches(music, upload, tmp_path / "upload.m4a", bitrate)
    assert match.track_id == track_id(seed)
    assert match.start_s == pytest.approx(at_s, abs=1.0)
    assert match.end_s == pytest.approx(at_s + EXCERPT_S, abs=1.0)
    assert match.reference_offset_s == pytest.approx(ref_s, abs=1.0)
    assert 0.7 <= match.confidence <= 1.0


def test_two_tracks_back_to_back_are_two_segments(music: Music, tmp_path: Path) -> None:
    first = music.signal(3)[int(5 * sounds.RATE):int(25 * sounds.RATE)]
    second = music.signal(31)[int(2 * sounds.RATE):int(17 * sounds.RATE)]
    upload = sounds.place(_background("noise"), np.concatenate([first, second]), 10.0, 5.0)
    matches = _matches(music, upload, tmp_path / "upload.m4a")
    assert [m.track_id for m in matches] == [track_id(3), track_id(31)]
    assert matches[0].end_s == pytest.approx(30.0, abs=1.0)
    assert matches[1].start_s == pytest.approx(30.0, abs=1.0)


@pytest.mark.parametrize("content", ["speech", "noise", "music not in the catalogue"])
def test_an_upload_without_catalogue_music_matches_nothing(
    music: Music, tmp_path: Path, content: str,
) -> None:
    if content == "music not in the catalogue":
        signal = np.concatenate([sounds.track(CATALOGUE_SIZE + k, UPLOAD_S / 2)
                                 for k in (1, 2)])
    else:
        signal = _background(content)
    assert _matches(music, signal, tmp_path / "clean.m4a") == []
