"""Matching a decoded video against the policy's reference data (hash lists of known content,
music catalogues), off the poll loop.

Matching costs time that grows with the lists and the soundtrack; on the loop's thread it
would stall polling, heartbeats and every other video. It runs on one worker thread from the
moment a video is decoded, alongside its inference; the result comes back to the loop as a
`Matched` completion. Videos are matched in turn (one thread: the index is shared and numpy
does the work); what keeps the queue short is that each match is bounded by the matchers
themselves (hash lists stay indexed, soundtracks are capped), and the queue is bounded by the
videos in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from consumer.media import Keyframes
from consumer.pipeline.ports import KnownContent
from consumer.policy.hash_lists import HashMatch
from consumer.policy.music import CatalogueMatch, MusicCatalogues
from consumer.policy.text_rules import CompiledRule


@dataclass(frozen=True)
class SignalRules:
    """The policy's data beyond score thresholds: hash lists, text rules, music catalogues."""

    known_content: KnownContent | None = None
    text_rules: Sequence[CompiledRule] = ()
    music: MusicCatalogues | None = None


@dataclass(frozen=True)
class Matches:
    """One video's matches, and the seconds each signal's matching took."""

    known: list[HashMatch] = field(default_factory=list)
    music: list[CatalogueMatch] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def match(rules: SignalRules, keyframes: Keyframes) -> Matches:
    """Every configured matcher over one video's frame hashes and soundtrack. Pure."""
    seconds: dict[str, float] = {}
    known: list[HashMatch] = []
    music: list[CatalogueMatch] = []
    if rules.known_content is not None and keyframes.hashes:
        started = time.perf_counter()
        known = rules.known_content.match(keyframes.hashes, keyframes.pts_s)
        seconds["hash_match"] = time.perf_counter() - started
    fingerprints = keyframes.audio_fingerprints
    if rules.music is not None and fingerprints:
        started = time.perf_counter()
        music = rules.music.match(fingerprints)
        seconds["music_match"] = time.perf_counter() - started
    return Matches(known, music, seconds)


class Matcher:
    """Runs `match` for decoded videos on one thread; with nothing to match, answers at once
    (no thread hop)."""

    def __init__(self, rules: SignalRules) -> None:
        self.rules = rules
        self._pool: ThreadPoolExecutor | None = None
        if rules.known_content is not None or rules.music is not None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matching")

    def submit(self, keyframes: Keyframes, done: Callable[[Future[Matches]], None]) -> None:
        if self._pool is None:
            future: Future[Matches] = Future()
            future.set_result(Matches())
        else:
            future = self._pool.submit(match, self.rules, keyframes)
        future.add_done_callback(done)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
