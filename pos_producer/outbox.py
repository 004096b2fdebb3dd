"""The terminal's durable outbox: every event is committed here before anything is sent.

One SQLite file (WAL, synchronous=FULL: a committed event survives kill -9 and power loss)
holds, per device, the event counter and the events in the order the till recorded them.
The counter and the event are written in one transaction, so a crash can never hand out a
sequence number (and thus a receipt number) twice. A row is marked delivered only from its
Kafka delivery report; anything unmarked is produced again after a restart, in sequence
order, and consumers dedupe on (device_id, receipt_number).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SCHEMA = """
create table if not exists device_counter (
    device_id       text primary key,
    last_sequence   integer not null
);
create table if not exists events (
    device_id       text not null,
    sequence_number integer not null,
    topic           text not null,
    event_type      text not null,
    receipt_number  text,             -- null for heartbeats
    event_id        text not null,
    body            blob not null,    -- schemaless Avro of the signed record (pos_producer.wire)
    recorded_at     text not null,    -- terminal clock, UTC ISO-8601
    failures        integer not null default 0,
    last_error      text,
    delivered_at    text,
    kafka_partition integer,
    kafka_offset    integer,
    primary key (device_id, sequence_number),
    unique (device_id, receipt_number)
);
create index if not exists events_unsent
    on events (device_id, sequence_number) where delivered_at is null;
create index if not exists events_delivered
    on events (delivered_at) where delivered_at is not null;
create table if not exists meta (
    key   text primary key,
    value text not null
);
"""


@dataclass(frozen=True)
class NewEvent:
    """What a builder hands back for the sequence number it was given."""

    topic: str
    event_type: str
    receipt_number: str | None
    event_id: str
    body: bytes


@dataclass(frozen=True)
class OutboxRow:
    device_id: str
    sequence_number: int
    topic: str
    event_type: str
    receipt_number: str | None
    event_id: str
    body: bytes
    failures: int


@dataclass(frozen=True)
class Delivery:
    device_id: str
    sequence_number: int
    partition: int
    offset: int


@dataclass(frozen=True)
class Failure:
    device_id: str
    sequence_number: int
    error: str


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    delivered: int
    last_sequence: int
    oldest_pending_at: str | None


_ROW = ("device_id, sequence_number, topic, event_type, receipt_number, event_id, body,"
        " failures")


class Outbox:
    """Thread-safe: one connection, serialised by a lock (the till and its sender thread)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.execute("pragma journal_mode = wal")
        self._db.execute("pragma synchronous = full")
        self._db.execute("pragma busy_timeout = 30000")
        # Idempotent DDL; executescript runs outside any transaction.
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so a second process on the same
        # file (`pos-producer status`, a restarted till) waits instead of failing mid-way.
        with self._lock:
            self._db.execute("begin immediate")
            try:
                yield self._db
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    # --- recording ---------------------------------------------------------------------

    def record(self, device_id: str, build: Callable[[int], NewEvent], now: datetime) -> int:
        """Take the device's next sequence number, build the event for it and commit both
        in one transaction; returns the sequence number. If `build` raises, nothing is
        written and the number is not used."""
        with self._transaction() as db:
            row = db.execute(
                "select last_sequence from device_counter where device_id = ?", (device_id,)
            ).fetchone()
            sequence = (row[0] if row else 0) + 1
            event = build(sequence)
            db.execute(
                "insert into events (device_id, sequence_number, topic, event_type,"
                " receipt_number, event_id, body, recorded_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
                (device_id, sequence, event.topic, event.event_type, event.receipt_number,
                 event.event_id, event.body, now.isoformat()),
            )
            db.execute(
                "insert into device_counter (device_id, last_sequence) values (?, ?)"
                " on conflict (device_id) do update set last_sequence = excluded.last_sequence",
                (device_id, sequence),
            )
        return sequence

    # --- sending -----------------------------------------------------------------------

    def unsent(self, device_id: str, limit: int) -> list[OutboxRow]:
        """The device's undelivered events, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"select {_ROW} from events where device_id = ? and delivered_at is null"
                " order by sequence_number limit ?",
                (device_id, limit),
            ).fetchall()
        return [OutboxRow(*r) for r in rows]

    def mark_delivered(self, deliveries: Iterable[Delivery], now: datetime) -> int:
        batch = [(now.isoformat(), d.partition, d.offset, d.device_id, d.sequence_number)
                 for d in deliveries]
        if not batch:
            return 0
        with self._transaction() as db:
            db.executemany(
                "update events set delivered_at = ?, kafka_partition = ?, kafka_offset = ?,"
                " last_error = null where device_id = ? and sequence_number = ?"
                " and delivered_at is null",
                batch,
            )
        return len(batch)

    def mark_failed(self, failures: Iterable[Failure]) -> int:
        """Count a failed attempt; the row stays unsent and is produced again later."""
        batch = [(f.error[:500], f.device_id, f.sequence_number) for f in failures]
        if not batch:
            return 0
        with self._transaction() as db:
            db.executemany(
                "update events set failures = failures + 1, last_error = ?"
                " where device_id = ? and sequence_number = ? and delivered_at is null",
                batch,
            )
        return len(batch)

    def prune(self, delivered_before: datetime) -> int:
        """Delete events delivered before the cut-off (the counter is kept)."""
        with self._transaction() as db:
            cur = db.execute(
                "delete from events where delivered_at is not null and delivered_at < ?",
                (delivered_before.isoformat(),),
            )
            return cur.rowcount

    # --- reading -----------------------------------------------------------------------

    def find_receipt(self, device_id: str, receipt_number: str) -> OutboxRow | None:
        with self._lock:
            row = self._db.execute(
                f"select {_ROW} from events where device_id = ? and receipt_number = ?",
                (device_id, receipt_number),
            ).fetchone()
        return OutboxRow(*row) if row else None

    def rows(self, device_id: str) -> list[OutboxRow]:
        """Every event the outbox still holds for the device, in sequence order."""
        with self._lock:
            rows = self._db.execute(
                f"select {_ROW} from events where device_id = ? order by sequence_number",
                (device_id,),
            ).fetchall()
        return [OutboxRow(*r) for r in rows]

    def pending(self, device_id: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "select count(*) from events where device_id = ? and delivered_at is null",
                (device_id,),
            ).fetchone()
        return int(n)

    def counts(self, device_id: str) -> OutboxCounts:
        with self._lock:
            pending, delivered, oldest = self._db.execute(
                "select count(*) filter (where delivered_at is null),"
                " count(*) filter (where delivered_at is not null),"
                " min(recorded_at) filter (where delivered_at is null)"
                " from events where device_id = ?",
                (device_id,),
            ).fetchone()
            last = self._db.execute(
                "select last_sequence from device_counter where device_id = ?", (device_id,)
            ).fetchone()
        return OutboxCounts(int(pending), int(delivered), int(last[0]) if last else 0, oldest)

    def devices(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "select device_id from device_counter order by device_id")]

    # --- small key/value store (cached schema ids) --------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("select value from meta where key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "insert into meta (key, value) values (?, ?)"
                " on conflict (key) do update set value = excluded.value",
                (key, value),
            )
