"""Delivery modes on fakes: exactly-once transactions (commit retry, abort, fencing) and
at-least-once acknowledgements (refused output, DLQ copies cut to fit, commit retry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from tests.unit.pipeline.fake_kafka import SHORT, TOPIC
from tests.unit.pipeline.fake_work import KNOWN_PDQ
from tests.unit.pipeline.fakes import Rig, rig


def _events(r: object, count: int = 3) -> None:
    for i in range(count):
        r.broker.event(f"v{i}")  # type: ignore[attr-defined]


def test_exactly_once_lands_outputs_and_offsets_in_one_transaction() -> None:
    r = rig(partitions=1, delivery="exactly_once")
    _events(r)
    r.until(lambda: r.broker.committed.get((TOPIC, 0)) == 3)
    assert r.broker.verdicts() == {f"v{i}": ["allow"] for i in range(3)}
    assert len(r.broker.on("tags")) == 3
    assert r.producer.aborted == 0 and not r.consumer.commits, "offsets only via the txn"


def test_exactly_once_holds_outputs_until_the_transaction_commits() -> None:
    r = rig(partitions=1, delivery="exactly_once", commit_interval_s=60.0)
    _events(r)
    r.until(lambda: r.pipeline.delivery.awaiting() == 3)
    assert not r.broker.outputs and r.broker.committed == {}
    assert r.pipeline.inflight() == 3, "finished but uncommitted work counts as in flight"
    r.pipeline.request_stop()
    r.pipeline.close()
    assert r.broker.committed == {(TOPIC, 0): 3} and len(r.broker.on("verdicts")) == 3


def test_an_unconfirmed_commit_is_retried_as_is_never_as_a_new_transaction() -> None:
    r = rig(partitions=1, delivery="exactly_once")
    r.producer.commit_failures.append(
        KafkaError(KafkaError._TIMED_OUT, "commit not confirmed", retriable=True))
    _events(r)
    r.until(lambda: r.broker.committed.get((TOPIC, 0)) == 3)
    assert r.broker.verdicts() == {f"v{i}": ["allow"] for i in range(3)}, "each exactly once"
    assert r.producer.aborted == 0
    assert not r.producer.commit_failures, "the failure was met, and the same commit retried"


def test_an_abort_keeps_the_records_for_the_next_transaction() -> None:
    r = rig(partitions=1, delivery="exactly_once")
    r.producer.send_offsets_failures.append(
        KafkaError(KafkaError._STATE, "coordinator moved", txn_requires_abort=True))
    _events(r)
    r.until(lambda: r.broker.committed.get((TOPIC, 0)) == 3)
    assert r.producer.aborted == 1
    assert r.broker.verdicts() == {f"v{i}": ["allow"] for i in range(3)}, "each exactly once"


def test_a_fenced_producer_stops_the_consumer_without_committing() -> None:
    r = rig(partitions=1, delivery="exactly_once")
    r.producer.commit_failures.append(
        KafkaError(KafkaError._FENCED, "fenced by a newer instance", fatal=True))
    _events(r)
    assert r.pipeline.run() == 1
    assert r.broker.committed == {} and not r.broker.outputs
    assert "fenced" in str(r.pipeline.delivery.fatal)


def test_a_revoke_commits_the_finished_transaction_before_letting_go() -> None:
    r = rig(partitions=2, delivery="exactly_once", commit_interval_s=60.0)
    r.broker.event("a", partition=0)
    r.broker.event("b", partition=1)
    r.until(lambda: r.pipeline.delivery.awaiting() == 2)
    r.consumer.revoke([0])
    r.until(lambda: (TOPIC, 0) not in r.pipeline.partitions.assigned)
    assert r.broker.committed == {(TOPIC, 0): 1, (TOPIC, 1): 1}
    assert r.broker.verdicts() == {"a": ["allow"], "b": ["allow"]}


def test_a_refused_output_stops_the_consumer_and_its_offset_stays() -> None:
    r = rig(partitions=1)
    r.producer.refuse["verdicts"] = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED,
                                               "not authorised")
    r.broker.event("a")
    assert r.pipeline.run() == 1
    assert r.broker.committed == {}
    assert ("publish", "delivery") in r.hooks.failures


def test_a_producer_that_refuses_a_record_stops_the_consumer() -> None:
    r = rig(partitions=1)
    r.producer.produce_error = KafkaException(
        KafkaError(KafkaError._UNKNOWN_TOPIC, "unknown topic"))
    r.broker.event("a")
    assert r.pipeline.run() == 1
    assert r.broker.committed == {} and "cannot produce" in str(r.pipeline.delivery.fatal)


def test_a_dlq_copy_the_broker_refuses_as_too_large_is_cut_and_sent_again() -> None:
    r = rig(partitions=1)
    r.producer.max_bytes["dlq"] = 3000
    r.broker.append(b"[" * 20 + b"x" * 20_000)  # not JSON, and bigger than the DLQ takes
    r.broker.event("after")
    r.until(r.settled)
    (letter,) = r.broker.on("dlq")
    assert letter.header("vmc.truncated") is not None
    assert letter.header("vmc.original.size") == b"20020"
    assert len(letter.value) < 3000 and letter.value == (b"[" * 20 + b"x" * 20_000)[
        :len(letter.value)]
    assert r.broker.verdicts() == {"after": ["allow"]}


def test_a_failed_offset_commit_is_retried() -> None:
    r = rig(partitions=1)
    r.consumer.commit_failures = 2
    _events(r)
    r.until(r.settled)
    assert r.consumer.commit_failures == 0 and r.broker.committed == {(TOPIC, 0): 3}


def _known_rig(tmp_path: Path, label: str, **kwargs: Any) -> Rig:
    from consumer.signals.known_content.settings import HashListRule
    from consumer.signals.known_content.store import HashListStore

    listed = tmp_path / "known.csv"
    listed.write_text(f"{KNOWN_PDQ},{label}\n")
    store = HashListStore([HashListRule(name="cases", path=str(listed), action="block")],
                          reload_s=60)
    return rig(partitions=1, known_content=store, **kwargs)


def test_a_verdict_the_broker_refuses_as_too_large_is_cut_to_half_and_sent_again(
        tmp_path: Path) -> None:
    """The topic's limit is below what start-up read: the refusal is the cue, never a stop."""
    r = _known_rig(tmp_path, "é" * 5000)
    r.producer.max_bytes["verdicts"] = 900  # the minimal verdict fits, its details do not
    r.broker.event("copy", "https://videos.example/known.mp4")
    r.broker.event("after")
    r.until(r.settled)
    assert r.pipeline.delivery.fatal is None
    assert r.broker.verdicts() == {"copy": ["block"], "after": ["allow"]}
    (verdict,) = [v.json() for v in r.broker.on("verdicts") if v.key == b"copy"]
    assert verdict["reasons"][0]["category"] == "known_content_match"
    assert verdict["reasons"][0]["action"] == "block"
    assert verdict["truncated"]["reasons.detail"] == 1
    assert len(r.broker.on("tags")) == 2
    # The label arrives cut to 256 characters by the list parser: what is left to cut at half
    # the size also takes the scores, but never the reasons' category and action.
    assert any(kind == "verdicts" and fields["reasons.detail"] == 1
               for kind, fields in r.hooks.truncated)


def test_a_tags_record_the_producer_refuses_locally_is_cut_and_produced_again(
        tmp_path: Path) -> None:
    """librdkafka refuses a record above its message.max.bytes in produce() itself."""
    r = _known_rig(tmp_path, "case-9")
    real_produce = r.producer.produce

    def produce(topic: str, **kwargs: Any) -> None:
        if topic == SHORT["tags"] and len(kwargs["value"]) > 700:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "too large"))
        real_produce(topic, **kwargs)

    r.producer.produce = produce  # type: ignore[method-assign]
    r.broker.event("copy", "https://videos.example/known.mp4")
    r.until(r.settled)
    assert r.pipeline.delivery.fatal is None
    (tags,) = [t.json() for t in r.broker.on("tags")]
    assert tags["video_id"] == "copy" and len(tags["frames"]) < 3
    assert tags["truncated"]["frames"] == 3 - len(tags["frames"])


def test_a_verdict_that_cannot_be_cut_enough_stops_the_consumer_and_its_offset_stays(
        tmp_path: Path) -> None:
    r = _known_rig(tmp_path, "case-9")
    r.producer.max_bytes["verdicts"] = 50  # below any verdict
    r.broker.event("copy", "https://videos.example/known.mp4")
    assert r.pipeline.run() == 1
    assert r.broker.committed == {} and "MSG_SIZE_TOO_LARGE" in str(r.pipeline.delivery.fatal)
