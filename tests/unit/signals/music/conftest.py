"""A session's generated catalogue: 50 distinct pieces (30-45 s), built once with
`build_catalogue` from a folder of .wav files (every tenth one AAC in .m4a)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from consumer.signals.music.catalogue import Track, build_catalogue
from consumer.signals.music.matching import CatalogueIndex
from tests.unit.signals.music import sounds

CATALOGUE_SIZE = 50


def track_length(seed: int) -> float:
    return 30.0 + (seed * 7) % 16


def track_id(seed: int) -> str:
    return f"track-{seed:02d}"


@dataclass(frozen=True)
class Music:
    folder: Path
    tracks: list[Track]
    index: CatalogueIndex

    @staticmethod
    def signal(seed: int) -> sounds.Signal:
        return sounds.track(seed, track_length(seed))


def _write(folder: Path, seed: int) -> None:
    suffix = ".m4a" if seed % 10 == 0 else ".wav"
    sounds.write(folder / f"{track_id(seed)}{suffix}", Music.signal(seed))


@pytest.fixture(scope="session")
def music(tmp_path_factory: pytest.TempPathFactory) -> Music:
    folder = tmp_path_factory.mktemp("catalogue")
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda seed: _write(folder, seed), range(CATALOGUE_SIZE)))
    tracks = build_catalogue(folder)
    return Music(folder, tracks, CatalogueIndex(tracks))
