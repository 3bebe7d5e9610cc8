"""`vmc decisions`: the decisions consumer. Reads the signals topic (materialised into the
state store) and the decisions topic, applies each decision once, and publishes calibration.

One explicit loop: poll -> signals record: upsert its verdict | decision: parse, find its
verdict, change the banks, record it -> advance the position in the same sqlite transaction.
Partitions are assigned, not subscribed: the positions live in the state file with the state
they built, so a lost file reads both topics from the start and rebuilds the same state.
A decision whose verdict is not known yet pauses its partition until the signals topic has
been read up to where its end was when the decision arrived (the record may be on its way),
or `unknown_verdict_wait_s` passed; still unknown, it goes to the DLQ, like a malformed one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from consumer.errors import PublishError
from consumer.events.bounded_json import loads
from consumer.events.source import SourceRef
from consumer.publishing.dlq import dlq_headers
from consumer.review.apply import change_of
from consumer.review.banks import (
    BankWriteError,
    NothingToBank,
    entry_from_bank,
    entry_of_frames,
    put_entry,
    remove_entry,
)
from consumer.review.decisions import DecisionError, ReviewDecision, UnknownVerdict, parse_decision
from consumer.review.state import StateStore
from consumer.review_settings import ReviewSettings

log = logging.getLogger("consumer.review")
DLQ_FLUSH_S = 30.0


class Observer(Protocol):
    def decision(self, decision: str, outcome: str) -> None: ...
    def decided_after(self, seconds: float) -> None: ...
    def bank_missed(self, reason: str) -> None: ...
    def refresh(self, store: StateStore) -> None: ...


@dataclass
class _Waiting:
    message: Any
    decision: ReviewDecision
    wanted: dict[int, int]  # signals partition -> offset it must reach
    since: float


class DecisionsLoop:
    """Applies decisions; `consumer`/`producer` are confluent-kafka's (or test doubles)."""

    def __init__(self, consumer: Any, producer: Any, store: StateStore,
                 settings: ReviewSettings, *, signals_topic: str, decisions_topic: str,
                 dlq_topic: str, served_banks: dict[str, str], observer: Observer,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.consumer, self.producer, self.store = consumer, producer, store
        self.settings, self.observer, self.clock = settings, observer, clock
        self.signals_topic, self.decisions_topic = signals_topic, decisions_topic
        self.dlq_topic, self.served_banks = dlq_topic, served_banks
        self.waiting: _Waiting | None = None
        self.held: deque[Any] = deque()  # decisions fetched while one waits (bounded by the
        # fetch queue: the decisions partitions are paused meanwhile)
        self.stopping = threading.Event()
        self.changed = True
        self.signals_eof: dict[int, int] = {}  # partition -> where it ended when last reached

    def assign(self) -> None:
        """Both topics' partitions, each from its stored position (the start when none)."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        meta = self.consumer.list_topics(timeout=10)
        parts = []
        for topic in (self.signals_topic, self.decisions_topic):
            if topic not in meta.topics or meta.topics[topic].error is not None:
                raise RuntimeError(f"topic {topic} does not exist")
            for p in sorted(meta.topics[topic].partitions):
                at = self.store.position(topic, p)
                parts.append(TopicPartition(topic, p, OFFSET_BEGINNING if at is None else at))
        self.consumer.assign(parts)

    def run(self, *, until: Callable[[], bool] = lambda: False,
            refresh_s: float = 2.0) -> None:
        last = 0.0
        while not self.stopping.is_set() and not until():
            message = self.consumer.poll(0.2)
            if message is not None and message.error() is not None:
                self._error(message)
            elif message is not None:
                self.handle(message)
            self._resolve_waiting()
            if self.changed and self.clock() - last >= refresh_s:
                self.observer.refresh(self.store)
                self.changed, last = False, self.clock()
        self.observer.refresh(self.store)

    def _error(self, message: Any) -> None:
        """A partition's end (where the signals topic stands, markers included); a fatal
        error stops the command (its state is consistent: positions commit with it)."""
        from confluent_kafka import KafkaError, KafkaException

        error = message.error()
        if error.code() == KafkaError._PARTITION_EOF:
            if message.topic() == self.signals_topic:
                self.signals_eof[message.partition()] = message.offset()
            return
        if error.fatal():
            raise KafkaException(error)
        log.warning("decisions consumer: %s", error)

    def handle(self, message: Any) -> None:
        if message.topic() == self.signals_topic:
            self._signals(message)
        else:
            self._decision(message)

    def _signals(self, message: Any) -> None:
        with self.store.transaction():
            try:
                record = loads(message.value() or b"").value
                if not isinstance(record, dict) or not all(
                        isinstance(record.get(k), str) for k in ("verdict_id", "video_id",
                                                                 "verdict")):
                    raise ValueError("verdict_id, video_id and verdict must be strings")
                self.store.put_signals(record)
            except (ValueError, KeyError, TypeError) as exc:  # not ours to stop on
                log.warning("%s: not a signals record, skipped: %s", _where(message), exc)
            self.store.advance(message.topic(), message.partition(), message.offset())

    def _decision(self, message: Any) -> None:
        if self.waiting is not None:  # fetched before the pause: handled after the wait
            self.held.append(message)
            return
        try:
            decision = parse_decision(message.value())
        except DecisionError as exc:
            self._dead_letter(message, exc, "?")
            return
        if self.store.verdict(decision.verdict_id) is None and not self.store.seen(
                decision.decision_id):
            self._wait(message, decision)
            return
        self._apply(message, decision)

    def _wait(self, message: Any, decision: ReviewDecision) -> None:
        """Pause the decisions partitions until the signals topic catches up."""

        self.consumer.pause(self._decision_partitions())
        self.signals_eof.clear()  # an end reached before now says nothing of the end now
        self.waiting = _Waiting(message, decision, self._signals_ends(), self.clock())

    def _decision_partitions(self) -> list[Any]:
        from confluent_kafka import TopicPartition

        return [TopicPartition(tp.topic, tp.partition) for tp in self.consumer.assignment()
                if tp.topic == self.decisions_topic]

    def _signals_ends(self) -> dict[int, int]:
        from confluent_kafka import TopicPartition

        meta = self.consumer.list_topics(self.signals_topic, timeout=10)
        return {p: self.consumer.get_watermark_offsets(
            TopicPartition(self.signals_topic, p), timeout=10)[1]
            for p in meta.topics[self.signals_topic].partitions}

    def _resolve_waiting(self) -> None:
        held = self.waiting
        if held is None:
            return
        caught_up = all(max(self.store.position(self.signals_topic, p) or 0,
                            self.signals_eof.get(p, 0)) >= end
                        for p, end in held.wanted.items())
        known = self.store.verdict(held.decision.verdict_id) is not None
        timed_out = self.clock() - held.since >= self.settings.unknown_verdict_wait_s
        if not (known or caught_up or timed_out):
            return
        self.waiting = None
        message = held.message
        if known:
            self._apply(message, held.decision)
        else:
            self._dead_letter(message, UnknownVerdict(
                f"decision {held.decision.decision_id}: verdict {held.decision.verdict_id} "
                f"of video {held.decision.video_id} is not on {self.signals_topic} (read up "
                f"to its end at the decision's arrival)"), held.decision.decision)
        backlog, self.held = self.held, deque()
        for later in backlog:  # in arrival order; one may wait again and hold the rest
            self._decision(later)
        if self.waiting is None:
            self.consumer.resume(self._decision_partitions())

    def _apply(self, message: Any, decision: ReviewDecision) -> None:
        verdict = self.store.verdict(decision.verdict_id) or {}
        change = change_of(decision, seen=self.store.seen(decision.decision_id),
                           current=self.store.effective(decision.video_id),
                           reasons=verdict.get("reasons", []))
        try:
            self._banks(decision, verdict, change)
        except BankWriteError as exc:  # one decision's failure, in the DLQ with the reason
            self._dead_letter(message, exc, decision.decision)
            return
        with self.store.transaction():
            if change.outcome != "duplicate":
                self.store.record(decision, change.outcome)
            if change.outcome == "applied" and change.effective is not None:
                self.store.set_effective(decision.video_id, change.effective)
            self.store.advance(message.topic(), message.partition(), message.offset())
        for note in change.notes:
            log.info("decision %s: %s", decision.decision_id, note)
        self.observer.decision(decision.decision, change.outcome)
        uploaded = verdict.get("uploaded_at")
        if change.outcome != "duplicate" and isinstance(uploaded, str):
            from consumer.review.calibration import _time

            start = _time(uploaded)
            if start is not None:
                self.observer.decided_after((decision.time - start).total_seconds())
        self.changed = True

    def _banks(self, decision: ReviewDecision, verdict: dict[str, Any], change: Any) -> None:
        confirmed, allowed = self.settings.confirmed_bank, self.settings.allow_bank
        if change.confirm and confirmed:
            try:
                entry = entry_of_frames(decision.video_id, verdict.get("frames", {}),
                                        label=decision.decision_id)
            except NothingToBank as exc:  # the decision still counts (calibration)
                log.warning("decision %s: not banked: %s", decision.decision_id, exc)
                self.observer.bank_missed(exc.reason)
            else:
                put_entry(confirmed, entry)
        if change.unconfirm and confirmed:
            remove_entry(confirmed, decision.video_id)
        for bank, entry in change.allow:
            if allowed:
                path = self.served_banks.get(bank)
                if path is None:
                    raise BankWriteError(f"bank {bank} is not a served bank: cannot copy "
                                         f"entry {entry} into the allow bank")
                try:
                    copy = entry_from_bank(bank, path, entry, label=decision.decision_id)
                except NothingToBank as exc:
                    log.warning("decision %s: not allowed: %s", decision.decision_id, exc)
                    self.observer.bank_missed(exc.reason)
                    continue
                put_entry(allowed, copy)
        for bank, entry in change.disallow:
            if allowed:
                remove_entry(allowed, f"{bank}.{entry}")

    def _dead_letter(self, message: Any, error: DecisionError | BankWriteError,
                     decision: str) -> None:
        source = SourceRef(message.topic(), message.partition(), message.offset())
        log.warning("%s: decision to the DLQ: %s: %s", source, error.reason, error)
        headers = dlq_headers(stage="decisions", error=error, reason=error.reason, attempt=1,
                              source=source, original=message.headers() or [])
        failed: list[Any] = []
        self.producer.produce(self.dlq_topic, message.value(), message.key(), headers=headers,
                              on_delivery=lambda err, _msg: failed.append(err) if err else None)
        if self.producer.flush(DLQ_FLUSH_S) or failed:  # not delivered: not passed over either
            raise PublishError(f"{source}: the DLQ record was not delivered "
                               f"({failed[0] if failed else 'flush timed out'}); the decision "
                               "is read again at restart")
        with self.store.transaction():
            self.store.advance(message.topic(), message.partition(), message.offset())
        self.observer.decision(decision, error.reason)


def _where(message: Any) -> str:
    return f"{message.topic()}[{message.partition()}]@{message.offset()}"
