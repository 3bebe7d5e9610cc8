"""Banks (hash lists) of known content, read from files, folders or fsspec URIs (objects or
prefixes) and reloaded when any of their files changes, without a restart.

A list that cannot be read at start-up, or is empty (unless its rule allows it), stops the
start: running without a list the policy names would let its content through. Files are read
by `consumer.data_files` (regular files only, bounded, never half-written) and parsed by
`bank_files` (plain lists and vPDQ files; bad lines skipped, counted in
`consumer_hash_list_malformed_lines{list}`, and past `max_malformed_ratio` the bank is invalid).
Later, a reload is refused and the previous version kept when a file cannot be read or parsed,
or when the bank yields nothing or shrinks below `signals.known_content.min_keep_ratio` of the
served hashes (an emptied or truncated file must not silently unblock known content); each
refusal is logged and counted (`consumer_hash_list_errors_total{list,reason}`), and the list
reads as stale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from consumer.data_files import DataFileError, tree_signature
from consumer.errors import ConfigError
from consumer.signals.known_content.bank import IndexedBank
from consumer.signals.known_content.bank_files import ReadBank, read_bank
from consumer.signals.known_content.index import HashIndex
from consumer.signals.known_content.parse import HashListError
from consumer.signals.known_content.settings import HashListRule

log = logging.getLogger("consumer.signals.known_content")

__all__ = ["HashListStore", "ListRefused", "load"]


class ListRefused(ValueError):
    """A hash list that parsed but may not replace the served one (empty, or shrunk)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def load(rule: HashListRule) -> IndexedBank:
    """Read, parse and index one bank (the swap is the caller's)."""
    return _load(rule)[0]


def _load(rule: HashListRule) -> tuple[IndexedBank, ReadBank]:
    """The bank, indexed, and what was read (its signature, its first bad line). The raw
    files are gone before the index is built: peak memory stays low."""
    read = read_bank(rule)
    return IndexedBank(rule, read.bank, HashIndex(read.bank.hashes)), read


def _reason(exc: Exception) -> str:
    if isinstance(exc, DataFileError | ListRefused):
        return exc.reason
    if isinstance(exc, HashListError | UnicodeDecodeError):
        return "invalid"
    return "unreadable" if isinstance(exc, OSError) else "error"


class HashListStore:
    """The current version of every list; `refresh` (from a background thread once started)
    swaps in a list whose file changed, once it is read, valid and not sharply smaller.
    Matching reads one immutable tuple: no lock."""

    def __init__(self, rules: Sequence[HashListRule], *, reload_s: float,
                 min_keep_ratio: float = 0.5,
                 on_error: Callable[[str, str], None] = lambda name, reason: None,
                 on_loaded: Callable[[str, int], None] = lambda name, size: None,
                 on_malformed: Callable[[str, int], None] = lambda name, count: None) -> None:
        self.reload_s = reload_s
        self.min_keep_ratio = min_keep_ratio
        self.on_error = on_error
        self.on_loaded = on_loaded
        self.on_malformed = on_malformed
        self._signatures: dict[str, tuple[str, ...]] = {}
        loaded = []
        for rule in rules:
            try:
                entry, read = _load(rule)
                self._signatures[rule.name] = read.signature
                loaded.append(entry)
                if not len(loaded[-1].index) and not rule.allow_empty:
                    raise ListRefused("the list holds no hash (set allow_empty=true if it "
                                      "is meant to be empty)", "empty")
            except DataFileError as exc:  # its message names the path
                raise ConfigError(f"signals.known_content.lists[{rule.name}]: {exc}") from exc
            except (OSError, UnicodeDecodeError, HashListError, ListRefused) as exc:
                raise ConfigError(f"signals.known_content.lists[{rule.name}]: cannot load "
                                  f"{rule.path}: {exc}") from exc
            self._loaded(loaded[-1], read)
        self._lists: tuple[IndexedBank, ...] = tuple(loaded)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loaded(self, entry: IndexedBank, read: ReadBank) -> None:
        bank = entry.bank
        if bank.entries.labels.cut:
            log.warning("hash list %s: %d labels cut to their first characters",
                        entry.rule.name, bank.entries.labels.cut)
        if bank.malformed:
            log.warning("hash list %s: %d malformed lines skipped (of %d files); the first: %s",
                        entry.rule.name, bank.malformed, bank.files, read.first_malformed)
        self.on_loaded(entry.rule.name, len(entry.index))
        self.on_malformed(entry.rule.name, bank.malformed)

    @property
    def lists(self) -> tuple[IndexedBank, ...]:
        return self._lists


    def refresh(self) -> None:
        """Reload each list whose file changed; a failure or a refusal keeps the previous
        version (reported once per version of the file, or on every check while it cannot be
        read or keeps changing)."""
        current = list(self._lists)
        for i, entry in enumerate(current):
            rule = entry.rule
            try:
                seen = tree_signature(rule.path, rule.max_files)
                if seen == self._signatures.get(rule.name):
                    continue
                self._signatures[rule.name] = seen
                fresh, read = _load(rule)
                self._signatures[rule.name] = read.signature
                self._check_size(len(entry.index), len(fresh.index))
                current[i] = fresh
            except Exception as exc:  # any failure: keep serving the previous version
                reason = _reason(exc)
                if reason in ("unreadable", "changing", "error"):
                    self._signatures.pop(rule.name, None)  # try again at the next check
                log.error("hash list %s: reload of %s refused (%s), keeping the previous "
                          "version (%d hashes): %s", rule.name, rule.path, reason,
                          len(entry.index), exc)
                self.on_error(rule.name, reason)
                continue
            log.info("hash list %s reloaded: %d hashes", rule.name, len(current[i].index))
            self._loaded(current[i], read)
        self._lists = tuple(current)

    def _check_size(self, served: int, fresh: int) -> None:
        if fresh == 0 and served > 0:
            raise ListRefused("the new version holds no hash", "empty")
        if fresh < self.min_keep_ratio * served:
            raise ListRefused(f"the new version holds {fresh} hashes, fewer than "
                              f"{self.min_keep_ratio:g} of the {served} served "
                              "(signals.known_content.min_keep_ratio)", "shrunk")

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
