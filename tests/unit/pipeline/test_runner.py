"""The spine on fakes: flow, poison events, rebalance, backpressure, breaker, shutdown, replay.

No servers: `fakes.py` stands in for Kafka, the decode workers and Triton, and its clock moves
only when the loop waits. The same behaviours are tested against real servers in
tests/integration/pipeline; these pin the spine's own decisions, in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

from consumer.pipeline.replay import Window
from tests.unit.pipeline.fake_kafka import TOPIC
from tests.unit.pipeline.fake_work import KNOWN_PDQ
from tests.unit.pipeline.fakes import rig


def test_each_event_gets_one_verdict_with_tags_and_offsets_commit_past_it() -> None:
    r = rig()
    r.broker.event("v1")
    r.broker.event("v2", "https://videos.example/nsfw.mp4")
    r.broker.event("v3", partition=1)
    assert r.pipeline.run(until=lambda p: r.settled()) == 0
    assert r.broker.verdicts() == {"v1": ["allow"], "v2": ["block"], "v3": ["allow"]}
    tags = {t.json()["video_id"]: t.json() for t in r.broker.on("tags")}
    verdicts = {v.json()["video_id"]: v.json() for v in r.broker.on("verdicts")}
    assert tags.keys() == verdicts.keys()
    assert all(tags[v]["verdict_id"] == verdicts[v]["verdict_id"] for v in tags)
    assert r.broker.on("verdicts")[0].key == b"v1"
    assert r.broker.committed == {(TOPIC, 0): 2, (TOPIC, 1): 1}
    assert not r.broker.on("dlq") and r.consumer.closed


def test_poison_events_get_their_outcome_and_the_partition_moves_on() -> None:
    r = rig()
    r.broker.append(b"\xff not json")
    r.broker.append(b'{"video_id": "v-ftp", "uri": "ftp://videos.example/a.mp4"}')
    r.broker.event("v-corrupt", "https://videos.example/corrupt.mp4")
    r.broker.event("v-empty", "https://videos.example/empty.mp4")
    r.broker.event("v-bug", "https://videos.example/bug.mp4")
    r.broker.event("v-good")
    assert r.pipeline.run(until=lambda p: r.settled()) == 0
    assert r.broker.verdicts() == {
        "v-ftp": ["unprocessable"], "v-corrupt": ["unprocessable"],
        "v-empty": ["unprocessable"], "v-bug": ["unprocessable"], "v-good": ["allow"]}
    reasons = [d.header("vmc.error.reason") for d in r.broker.on("dlq")]
    assert reasons[2:] == [b"corrupt", b"no_keyframes", b"internal_error"]
    assert len(reasons) == 5 and all(reasons)
    first = r.broker.on("dlq")[0]
    assert first.value == b"\xff not json" and first.key is None, "the original bytes"
    assert r.broker.committed == {(TOPIC, 0): 6}
    assert ("media", "internal_error") in r.hooks.failures


def test_a_revoke_mid_batch_commits_only_finished_work_and_the_next_owner_redoes_the_rest(
) -> None:
    r = rig(partitions=1)
    r.broker.event("a")
    r.until(lambda: r.broker.committed.get((TOPIC, 0)) == 1)
    r.model.hold = True
    r.broker.event("b")
    r.until(lambda: bool(r.model.pending))  # b's rows are at Triton
    r.consumer.revoke([0])
    r.until(lambda: not r.pipeline.partitions.assigned)
    assert r.broker.committed == {(TOPIC, 0): 1}, "b was not finished: not committed"
    assert r.pipeline.inflight() == 0
    r.model.hold = False
    r.model.answer()  # the late answer for a dropped job changes nothing
    r.pipeline.step()
    assert "b" not in r.broker.verdicts()
    r.consumer.assign_more([0])  # back to us: b is read again from the committed offset
    r.until(r.settled)
    assert r.broker.verdicts() == {"a": ["allow"], "b": ["allow"]}


def test_a_lost_partition_commits_nothing_and_drops_its_work() -> None:
    r = rig(hold_decode=True, partitions=1)
    r.broker.event("a")
    r.until(lambda: bool(r.extractor.held))
    r.consumer.lose([0])
    r.until(lambda: not r.pipeline.partitions.assigned)
    r.extractor.release()  # its decode was cancelled: nothing comes of it
    for _ in range(20):
        r.pipeline.step()
    assert r.broker.committed == {} and not r.broker.outputs and r.pipeline.inflight() == 0


def test_backpressure_pauses_at_the_bound_and_resumes_below_the_resume_ratio() -> None:
    r = rig(hold_decode=True, partitions=1, max_inflight_videos=4, resume_ratio=0.5)
    for i in range(6):
        r.broker.event(f"v{i}")
    r.until(lambda: len(r.extractor.held) == 4)
    r.pipeline.step()
    assert r.consumer.paused == {(TOPIC, 0)} and r.pipeline.inflight() == 4
    for _ in range(10):
        r.pipeline.step()
    assert len(r.extractor.submitted) == 4, "no event is taken while paused"
    r.extractor.hold = False
    r.extractor.release()
    r.until(r.settled)
    assert not r.consumer.paused
    assert r.broker.verdicts() == {f"v{i}": ["allow"] for i in range(6)}


def test_a_triton_outage_opens_the_breaker_pauses_intake_and_recovers_through_half_open(
) -> None:
    r = rig(partitions=1)  # breaker: 2 failures open it for 5 s
    r.model.down = 10**6
    r.broker.event("a")
    r.until(lambda: r.hooks.breaker_states[-1:] == ["OPEN"])
    opened, sent = r.clock(), len(r.model.requests)
    r.pipeline.step()
    assert r.consumer.paused == {(TOPIC, 0)}
    assert not r.broker.outputs and r.broker.committed == {}, "no verdict, no offset"
    r.model.down, r.model.hold = 0, True  # Triton is back; hold the trial to look at it
    r.until(lambda: len(r.model.requests) > sent)
    assert r.clock() - opened >= 4.5, "nothing is sent while the breaker is open"
    for _ in range(5):
        r.pipeline.step()
    assert r.hooks.breaker_states[-1] == "HALF_OPEN" and len(r.model.requests) == sent + 1
    assert r.consumer.paused == {(TOPIC, 0)}, "one trial at a time, intake still paused"
    r.model.hold = False
    r.model.answer()
    r.until(r.settled)
    assert r.hooks.breaker_states[-1] == "CLOSED" and not r.consumer.paused
    assert r.broker.verdicts() == {"a": ["allow"]}
    assert ("inference", "unavailable") in r.hooks.failures


def test_an_unusable_model_output_fails_closed_to_review() -> None:
    r = rig(partitions=1)
    r.model.invalid = 1
    r.broker.event("a")
    r.until(r.settled)
    verdict = r.broker.on("verdicts")[0].json()
    assert verdict["verdict"] == "review"
    assert verdict["reasons"][0]["category"] == "invalid_model_output"


def test_capacity_refusals_are_retried_never_a_verdict() -> None:
    r = rig(partitions=1)
    r.extractor.queue_full = 3
    r.broker.event("a")
    r.until(r.settled)
    assert r.broker.verdicts() == {"a": ["allow"]} and not r.broker.on("dlq")


def test_sigterm_drains_in_flight_work_then_commits_and_exits_0() -> None:
    r = rig(hold_decode=True, partitions=1)
    r.broker.event("a")
    r.broker.event("b")

    def signal_then_finish(pipeline: object) -> bool:
        if len(r.extractor.held) == 2 and not r.pipeline.stopping:
            r.pipeline.request_stop()
            r.broker.event("c")  # arrives after the signal: left for the next consumer
            r.extractor.release()
        return False

    assert r.pipeline.run(until=signal_then_finish) == 0
    assert r.broker.verdicts() == {"a": ["allow"], "b": ["allow"]}
    assert r.broker.committed == {(TOPIC, 0): 2} and r.consumer.closed


def test_sigterm_stops_after_the_grace_period_without_committing_unfinished_work() -> None:
    r = rig(hold_decode=True, partitions=1, shutdown_grace_s=3.0)
    r.broker.event("a")
    r.until(lambda: bool(r.extractor.held))
    r.pipeline.request_stop()
    started = r.clock()
    r.until(r.pipeline._grace_over)
    assert r.clock() - started >= 3.0
    assert r.broker.committed == {} and not r.broker.outputs


def test_a_replay_window_skips_events_outside_its_time_and_ends_at_its_offsets() -> None:
    window = Window(start={(TOPIC, 0): 1, (TOPIC, 1): 0}, end={(TOPIC, 0): 3, (TOPIC, 1): 0},
                    from_ms=2500)
    r = rig(window=window)
    for i, stamp in enumerate((1000, 2000, 3000, 4000)):
        r.broker.event(f"v{i}", timestamp_ms=stamp)
    assert r.pipeline.run() == 0, "ends by itself"
    assert r.broker.verdicts() == {"v2": ["allow"]}, "v1 is before from_ms, v3 past the end"
    assert r.broker.committed == {(TOPIC, 0): 3}
    assert r.hooks.events.count("skipped") == 1
    assert r.consumer.paused == {(TOPIC, 0)}, "a finished partition stays paused"


def test_records_carry_the_run_and_the_source_offset() -> None:
    r = rig(partitions=1)
    r.broker.event("a")
    r.until(r.settled)
    for record in r.broker.outputs:
        assert record.header("vmc.source") == f"{TOPIC}[0]@0".encode()
        assert record.header("vmc.run_id") == b"live"
    assert json.loads(r.broker.on("tags")[0].value)["source"]["offset"] == 0


def test_the_loop_waits_in_poll_while_triton_backs_off_instead_of_spinning() -> None:
    r = rig(partitions=1)
    r.model.down = 10**6
    r.broker.event("a")
    r.until(lambda: bool(r.model.requests))
    start = r.clock()
    for _ in range(100):
        r.pipeline.step()
    # Each idle turn waits in poll (here: moves the fake clock); a zero timeout would spin
    # at full CPU for as long as Triton is down.
    assert r.clock() - start >= 3.0
    assert len(r.model.requests) <= 6, "retries are spaced by backoff and the breaker"


def test_a_frame_on_a_hash_list_blocks_its_video_and_every_frame_hash_is_tagged(
        tmp_path: Path) -> None:
    from consumer.signals.known_content.settings import HashListRule
    from consumer.signals.known_content.store import HashListStore

    listed = tmp_path / "known.csv"
    listed.write_text(f"{KNOWN_PDQ},case-9\n")
    store = HashListStore([HashListRule(name="cases", path=str(listed), action="block")],
                          reload_s=60)
    r = rig(partitions=1, known_content=store)
    r.broker.event("copy", "https://videos.example/known.mp4")
    r.broker.event("fresh")
    r.until(r.settled)
    assert r.broker.verdicts() == {"copy": ["block"], "fresh": ["allow"]}
    (verdict,) = [v.json() for v in r.broker.on("verdicts") if v.key == b"copy"]
    assert verdict["reasons"][0] == {"category": "known_content_match", "score": None,
                                     "threshold": None, "at_s": 0.0, "action": "block",
                                     "detail": "case-9", "hash_list": "cases", "distance": 0,
                                     "entry": KNOWN_PDQ, "entry_at_s": 0.0, "query_share": 1.0,
                                     "compared_share": 1.0}
    assert r.hooks.events.count("known_content:cases") == 1
    frames = [t.json()["frames"] for t in r.broker.on("tags")]
    assert [len(f) for f in frames] == [3, 3]
    assert frames[0][0] == {"at_s": 0.0, "pdq": KNOWN_PDQ, "quality": 100}
