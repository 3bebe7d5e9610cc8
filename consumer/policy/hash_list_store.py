"""The policy's data files: hash lists read from files or fsspec URIs and reloaded when they
change, without a restart; and the word lists of text rules, read once at start-up.

A list that cannot be read at start-up stops the start: running without a list the policy
names would let its content through. Later, a list that fails to load keeps its previous
version, and the failure is logged and counted (`consumer_hash_list_errors_total{list}`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from consumer.media.frame_hash import FrameHash
from consumer.policy.hash_lists import (
    HashIndex,
    HashListError,
    HashMatch,
    IndexedList,
    match_frames,
    parse_hash_list,
)
from consumer.policy.text_rules import CompiledRule, compile_rules
from consumer.settings import ConfigError, HashListRule, TextRule

log = logging.getLogger("consumer.policy")

_INFO_KEYS = ("size", "mtime", "LastModified", "ETag", "etag", "updated", "generation",
              "md5Hash", "created")


def _is_uri(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _filesystem(path: str) -> Any:
    try:
        import fsspec  # type: ignore[import-untyped]
    except ImportError as exc:
        raise HashListError(f"{path}: reading URIs needs fsspec (the [s3] or [gcs] extra)") \
            from exc
    return fsspec.core.url_to_fs(path)[0]


def signature(path: str) -> tuple[str, ...]:
    """What changes when the list's file does: size and modification time (or ETag)."""
    if _is_uri(path):
        info = _filesystem(path).info(path)
        return tuple(str(info.get(key)) for key in _INFO_KEYS)
    stat = os.stat(path.removeprefix("file://"))
    return (str(stat.st_size), str(stat.st_mtime_ns))


def read_text(path: str) -> str:
    if _is_uri(path):
        with _filesystem(path).open(path, "rb") as handle:
            data: bytes = handle.read()
    else:
        with open(path.removeprefix("file://"), "rb") as handle:
            data = handle.read()
    return data.decode("utf-8")


def load_text_rules(rules: Sequence[TextRule]) -> list[CompiledRule]:
    """Text rules compiled, word lists read now: one that cannot be read stops the start."""
    try:
        return compile_rules(rules, read_text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"policy.text_rules: cannot read a word list: {exc}") from exc


def load(rule: HashListRule) -> IndexedList:
    hashes = parse_hash_list(rule.name, read_text(rule.path))
    return IndexedList(rule, hashes, HashIndex(hashes.hashes))


class HashListStore:
    """The current version of every list; `refresh` (from a background thread once started)
    swaps in a list whose file changed. Matching reads one immutable tuple: no lock."""

    def __init__(self, rules: Sequence[HashListRule], *, reload_s: float,
                 on_error: Callable[[str], None] = lambda name: None,
                 on_loaded: Callable[[str, int], None] = lambda name, size: None) -> None:
        self.reload_s = reload_s
        self.on_error = on_error
        self.on_loaded = on_loaded
        self._signatures: dict[str, tuple[str, ...]] = {}
        loaded = []
        for rule in rules:
            try:
                self._signatures[rule.name] = signature(rule.path)
                loaded.append(load(rule))
            except (OSError, UnicodeDecodeError, HashListError) as exc:
                raise ConfigError(f"policy.hash_lists[{rule.name}]: cannot load "
                                  f"{rule.path}: {exc}") from exc
            on_loaded(rule.name, len(loaded[-1].index))
        self._lists: tuple[IndexedList, ...] = tuple(loaded)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lists(self) -> tuple[IndexedList, ...]:
        return self._lists

    def match(self, frames: Sequence[FrameHash], pts_s: Sequence[float]) -> list[HashMatch]:
        return match_frames(self._lists, frames, pts_s)

    def refresh(self) -> None:
        """Reload each list whose file changed; a failure keeps the previous version (and is
        reported once per version of the file, or on every check while it cannot be read)."""
        current = list(self._lists)
        for i, entry in enumerate(current):
            rule = entry.rule
            try:
                seen = signature(rule.path)
                if seen == self._signatures.get(rule.name):
                    continue
                self._signatures[rule.name] = seen
                current[i] = load(rule)
            except Exception as exc:  # any failure: keep serving the previous version
                log.error("hash list %s: reload of %s failed, keeping the previous version "
                          "(%d hashes): %s", rule.name, rule.path, len(entry.index), exc)
                self.on_error(rule.name)
                continue
            log.info("hash list %s reloaded: %d hashes", rule.name, len(current[i].index))
            self.on_loaded(rule.name, len(current[i].index))
        self._lists = tuple(current)

    def start(self) -> None:
        if self._lists and self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="hash-lists", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.reload_s):
            self.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
