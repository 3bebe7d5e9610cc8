"""Flood quarantine: a bank entry that suddenly matches many different videos is more likely
a bad entry (a logo, a black-ish frame, an intro someone banked by mistake) than a wave of
re-uploads, and a bad `block` entry would block them all. So an entry that matched more than
`max_videos` distinct videos within `window_s` is quarantined: its `block` becomes `review`
(people look before anything is removed), a metric counts the demotions and an alert fires
while any entry is quarantined.

The state is process-local (each consumer counts the videos it judged: with P pods an entry is
quarantined when one pod alone sees more than `max_videos`) and bounded: per entry at most
`max_videos + 1` recent video keys, and at most `max_entries` entries (the one matched longest
ago is forgotten first). A redelivered video counts once (its key is its video id).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable

EntryKey = tuple[str, str]  # (bank, entry id)


class FloodGuard:
    """Counts the distinct videos each entry matched within the window. Thread-safe: the
    judge records on the loop's thread, the metrics read at scrape time."""

    def __init__(self, max_videos: int, window_s: float, max_entries: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_videos = max_videos
        self.window_s = window_s
        self.max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[EntryKey, OrderedDict[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_videos > 0

    def record(self, key: EntryKey, video: str) -> bool:
        """The entry matched `video` now; whether it is quarantined (more than `max_videos`
        distinct videos within the window, this one included)."""
        if not self.enabled:
            return False
        now = self._clock()
        with self._lock:
            videos = self._seen.pop(key, None) or OrderedDict()
            self._seen[key] = videos  # most recently matched last
            videos.pop(video, None)
            videos[video] = now
            self._expire(videos, now)
            while len(videos) > self.max_videos + 1:
                videos.popitem(last=False)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return len(videos) > self.max_videos

    def quarantined(self) -> dict[str, int]:
        """Entries quarantined now, per bank (entries whose window has passed are dropped)."""
        now = self._clock()
        by_bank: Counter[str] = Counter()
        with self._lock:
            for key in list(self._seen):
                videos = self._seen[key]
                self._expire(videos, now)
                if not videos:
                    del self._seen[key]
                elif len(videos) > self.max_videos:
                    by_bank[key[0]] += 1
        return dict(by_bank)

    def _expire(self, videos: OrderedDict[str, float], now: float) -> None:
        while videos and next(iter(videos.values())) <= now - self.window_s:
            videos.popitem(last=False)
