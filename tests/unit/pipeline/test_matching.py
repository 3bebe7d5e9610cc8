"""Matching against hash lists and catalogues runs off the poll loop: while a match runs the
loop keeps polling and inferring, and a failing match is only that video's outcome."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from consumer.signals.known_content.bank import IndexedBank, plain_bank
from consumer.signals.known_content.index import HashIndex
from consumer.signals.known_content.parse import parse_hash_list
from consumer.signals.known_content.settings import HashListRule
from tests.unit.pipeline.fake_work import KNOWN_PDQ
from tests.unit.pipeline.fakes import rig

KNOWN = np.frombuffer(bytes.fromhex(KNOWN_PDQ), np.uint8)


class FakeStore:
    """Known content served as one bank `cases` holding `KNOWN_PDQ`, searched through
    `on_known` (run when a query is `KNOWN_PDQ`): the store's seam the signal reads."""

    def __init__(self, on_known: Any) -> None:
        listed = parse_hash_list("cases", f"{KNOWN_PDQ}\n")
        index = HashIndex(listed.hashes)
        real_search = index.search

        def search(queries: np.ndarray, max_distance: int) -> Any:
            if (queries == KNOWN).all(axis=1).any():
                on_known()
            return real_search(queries, max_distance)

        index.search = search  # type: ignore[method-assign]
        self.lists = (IndexedBank(HashListRule(name="cases", path="unused", action="block"),
                                  plain_bank("cases", listed.hashes, listed.labels), index),)


class SlowList(FakeStore):
    """Known content that matches `KNOWN_PDQ` frames, blocking until `go` is set for them."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.threads: list[str] = []
        super().__init__(self._wait)

    def _wait(self) -> None:
        self.threads.append(threading.current_thread().name)
        if not self.go.wait(10):
            raise TimeoutError("never released")


def test_a_slow_match_runs_off_the_loop_which_keeps_polling_and_inferring() -> None:
    known = SlowList()
    r = rig(partitions=1, known_content=known)
    r.broker.event("copy", "https://videos.example/known.mp4")
    r.broker.event("fresh")
    r.until(lambda: len(r.model.requests) >= 1 and not r.pipeline.batches.inflight[
        "nsfw_classifier"] and not any(r.pipeline.batches.batchers.values()))
    polled = r.clock()
    for _ in range(20):
        r.pipeline.step()
    assert r.clock() > polled, "the loop still waits in poll: it is not stuck in matching"
    assert all(not job.rows_left or not any(job.rows_left.values())
               for job in r.pipeline.jobs), "every video's rows were inferred meanwhile"
    assert not r.broker.outputs and r.broker.committed == {}, "copy is still matching"
    known.go.set()
    r.until(r.settled)
    assert r.broker.verdicts() == {"copy": ["block"], "fresh": ["allow"]}
    assert known.threads and threading.current_thread().name not in known.threads
    assert r.hooks.events.count("known_content:cases") == 1


class BrokenList(FakeStore):
    def __init__(self) -> None:
        super().__init__(self._bug)

    def _bug(self) -> None:
        raise ZeroDivisionError("a bug met by one video")


def test_a_match_that_fails_is_that_videos_outcome_only() -> None:
    r = rig(partitions=1, known_content=BrokenList())
    r.broker.event("copy", "https://videos.example/known.mp4")
    r.broker.event("fresh")
    r.until(r.settled)
    assert r.broker.verdicts() == {"copy": ["unprocessable"], "fresh": ["allow"]}
    assert [d.header("vmc.stage") for d in r.broker.on("dlq")] == [b"policy"]
