"""Matching against hash lists and catalogues runs off the poll loop: while a match runs the
loop keeps polling and inferring, and a failing match is only that video's outcome."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from consumer.media.frame_hash import FrameHash
from consumer.signals.known_content.lists import HashMatch
from tests.unit.pipeline.fake_work import KNOWN_PDQ
from tests.unit.pipeline.fakes import rig


class SlowList:
    """Known content that matches `KNOWN_PDQ` frames, blocking until `go` is set for them."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.threads: list[str] = []

    def match(self, frames: Sequence[FrameHash], pts_s: Sequence[float]) -> list[HashMatch]:
        self.threads.append(threading.current_thread().name)
        if frames and frames[0].pdq == KNOWN_PDQ:
            if not self.go.wait(10):
                raise TimeoutError("never released")
            return [HashMatch("cases", "block", None, 0, pts_s[0])]
        return []


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


class BrokenList:
    def match(self, frames: Sequence[FrameHash], pts_s: Sequence[float]) -> list[HashMatch]:
        if frames and frames[0].pdq == KNOWN_PDQ:
            raise ZeroDivisionError("a bug met by one video")
        return []


def test_a_match_that_fails_is_that_videos_outcome_only() -> None:
    r = rig(partitions=1, known_content=BrokenList())
    r.broker.event("copy", "https://videos.example/known.mp4")
    r.broker.event("fresh")
    r.until(r.settled)
    assert r.broker.verdicts() == {"copy": ["unprocessable"], "fresh": ["allow"]}
    assert [d.header("vmc.stage") for d in r.broker.on("dlq")] == [b"policy"]
