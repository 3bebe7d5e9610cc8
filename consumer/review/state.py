"""The decisions consumer's state: a local sqlite file, rebuilt from the topics when lost.

It holds the signals topic materialised (a KTable: every verdict seen, by verdict id, with
what decisions need: video, verdict, reasons, scores, frames, upload time), the decisions
applied (by decision id, so a replay applies once), each video's effective decision, and how
far each topic's partitions were read. The positions live here, with the state they produced,
in one transaction per record: the state and the offsets cannot disagree after a crash, and a
lost file means reading both topics again from the start, which rebuilds the same state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from consumer.review.apply import Effective
from consumer.review.decisions import ReviewDecision

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    verdict_id TEXT PRIMARY KEY, video_id TEXT NOT NULL, verdict TEXT NOT NULL,
    policy_version TEXT, reasons TEXT NOT NULL, scores TEXT NOT NULL, frames TEXT NOT NULL,
    uploaded_at TEXT, decided_at TEXT);
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY, video_id TEXT NOT NULL, verdict_id TEXT NOT NULL,
    decision TEXT NOT NULL, categories TEXT NOT NULL, reviewer TEXT NOT NULL,
    time TEXT NOT NULL, note TEXT, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS effective (
    video_id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, time TEXT NOT NULL,
    confirmed INTEGER NOT NULL, allowed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition));
"""


class StateStore:
    """One sqlite file; every method commits (or, inside `transaction`, all commit together)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # One thread uses it at a time (the loop's, which may not be the one that built it).
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> _Tx:
        """`with store.transaction():` commits everything inside at once, or nothing."""
        self.db.execute("BEGIN")
        return _Tx(self.db)

    # -- the signals table
    def put_signals(self, record: Mapping[str, Any]) -> None:
        """One signals record (schema vmc.signals/1) -> its verdict's row (upsert)."""
        self.db.execute(
            "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?,?,?)",
            (record["verdict_id"], record["video_id"], record["verdict"],
             record.get("policy_version"), json.dumps(record.get("reasons") or []),
             json.dumps(record.get("scores") or {}), json.dumps(record.get("frames") or {}),
             record.get("uploaded_at"), record.get("decided_at")))

    def verdict(self, verdict_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM verdicts WHERE verdict_id=?",
                              (verdict_id,)).fetchone()
        return None if row is None else _verdict_row(row)

    def verdicts(self) -> Iterator[dict[str, Any]]:
        for row in self.db.execute("SELECT * FROM verdicts"):
            yield _verdict_row(row)

    # -- decisions
    def seen(self, decision_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM decisions WHERE decision_id=?",
                               (decision_id,)).fetchone() is not None

    def record(self, decision: ReviewDecision, outcome: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO decisions VALUES (?,?,?,?,?,?,?,?,?)",
            (decision.decision_id, decision.video_id, decision.verdict_id, decision.decision,
             json.dumps(list(decision.categories)), decision.reviewer,
             decision.time.isoformat(), decision.note, outcome))

    def decisions(self) -> Iterator[dict[str, Any]]:
        """Every decision recorded, with its verdict's row where known."""
        query = ("SELECT d.decision_id, d.video_id, d.verdict_id, d.decision, d.categories, "
                 "d.time, d.outcome, v.verdict, v.scores, v.reasons, v.uploaded_at "
                 "FROM decisions d LEFT JOIN verdicts v ON v.verdict_id = d.verdict_id")
        for row in self.db.execute(query):
            yield {"decision_id": row[0], "video_id": row[1], "verdict_id": row[2],
                   "decision": row[3], "categories": json.loads(row[4]),
                   "time": datetime.fromisoformat(row[5]), "outcome": row[6],
                   "verdict": row[7], "scores": json.loads(row[8]) if row[8] else {},
                   "reasons": json.loads(row[9]) if row[9] else [],
                   "uploaded_at": row[10]}

    def effective(self, video_id: str) -> Effective | None:
        row = self.db.execute("SELECT decision_id, time, confirmed, allowed FROM effective "
                              "WHERE video_id=?", (video_id,)).fetchone()
        if row is None:
            return None
        return Effective(row[0], datetime.fromisoformat(row[1]), bool(row[2]),
                         tuple((str(e[0]), str(e[1])) for e in json.loads(row[3])))

    def set_effective(self, video_id: str, effective: Effective) -> None:
        self.db.execute("INSERT OR REPLACE INTO effective VALUES (?,?,?,?,?)",
                        (video_id, effective.decision_id, effective.time.isoformat(),
                         int(effective.confirmed), json.dumps(effective.allowed)))

    # -- positions
    def position(self, topic: str, partition: int) -> int | None:
        row = self.db.execute("SELECT next_offset FROM positions WHERE topic=? AND "
                              "partition=?", (topic, partition)).fetchone()
        return None if row is None else int(row[0])

    def advance(self, topic: str, partition: int, offset: int) -> None:
        """Record that `offset` of topic[partition] is done: reading resumes after it."""
        self.db.execute("INSERT OR REPLACE INTO positions VALUES (?,?,?)",
                        (topic, partition, offset + 1))


def _verdict_row(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"verdict_id": row[0], "video_id": row[1], "verdict": row[2],
            "policy_version": row[3], "reasons": json.loads(row[4]),
            "scores": json.loads(row[5]), "frames": json.loads(row[6]),
            "uploaded_at": row[7], "decided_at": row[8]}


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> _Tx:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")
