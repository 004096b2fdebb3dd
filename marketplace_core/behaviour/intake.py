"""Behavioural event intake: the work behind `POST /events` (and the replay tool).

Per batch, in one Postgres transaction and one Kafka round trip:

1. the caller: a signed-in account that opted out → every event `dropped` (OPTED_OUT),
   nothing produced, not even bad events; else its pseudonym (accounts.pseudonyms, cached
   per process). Guests must send `anonymous_id`;
2. each event is checked (`rules.check`); a refused one becomes a `BadEvent` (reason code,
   detail, its exact JSON bytes) for `analytics.bad_events`;
3. dedup (`claim_keys`): each event's id and content fingerprint (sha256 of its canonical
   content without event_id) are claimed in `behaviour_dedup` with ONE statement for the
   whole batch; an event whose id or fingerprint is already live (or earlier in the same
   batch) is a `duplicate` and is not produced. Works across API processes: the table is
   the shared memory, and a concurrent claim of the same key waits on the row lock;
4. accepted events go to `analytics.raw` (key session_id) and bad events to
   `analytics.bad_events`, and we wait for Kafka's acks=all on all of them;
5. only then the transaction commits. If Kafka fails, it rolls back (the claims vanish,
   so the client's retry is not mistaken for a duplicate) and the caller answers 503
   EVENTS_UNAVAILABLE. A partial failure may have written some records: the retry sends
   them again under the same event_id, which the lake dedups.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from psycopg_pool import ConnectionPool

from infra.settings import get_settings
from marketplace_core.accounts import pseudonyms
from marketplace_core.behaviour import batch as batches
from marketplace_core.behaviour.kafka import Encoder, KafkaUnavailable, Sender, schema_header
from marketplace_core.behaviour.rules import Rejected, Rules, check, client_event_id
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode
from schemas.registry import registry_client
from schemas.topics import ANALYTICS_BAD_EVENTS, ANALYTICS_RAW

# The intake's rules version, stamped on bad events (bump when the rules change).
SCHEMA_VERSION = 1

ACCEPTED, DUPLICATE, REJECTED, DROPPED = "accepted", "duplicate", "rejected", "dropped"

_ID_PREFIX, _FP_PREFIX = b"i", b"f"

# The keys travel as ONE bytea of 17-byte keys (cheap to send in binary; a bytea[] would be
# escaped key by key) and are cut apart in the statement.
KEY_BYTES = 17
CLAIM_SQL = """
insert into behaviour_dedup (key, expires_at)
select k, now() + make_interval(secs => case when get_byte(k, 0) = 105
                                             then %(id_s)s else %(fp_s)s end)
from (select substring(%(keys)s::bytea from i * 17 + 1 for 17) as k
      from generate_series(0, %(n)s - 1) as i) as ks
on conflict (key) do update set expires_at = excluded.expires_at
    where behaviour_dedup.expires_at < now()
returning key
"""


def fingerprint(record: dict[str, Any]) -> str:
    """sha256 (hex) of the event's canonical content without event_id and received_at."""
    canonical = orjson.dumps([
        record["event_type"], record["occurred_at"], record["target_type"],
        record["target_id"], record["session_id"], record["user_pseudo_id"],
        record["anonymous_id"], record["surface"], record["position"],
        record["search_query"], None if record["lat"] is None else str(record["lat"]),
        None if record["lon"] is None else str(record["lon"]), record["platform"],
        record["app_version"], record["utm_source"], record["utm_medium"],
        record["utm_campaign"], record["referrer"]])
    return hashlib.sha256(canonical).hexdigest()


@dataclass
class BadEvent:
    index: int
    code: str
    detail: str
    client_event_id: str | None
    raw: bytes


@dataclass
class Prepared:
    """A batch after the rules: what to produce, what to refuse, per-event statuses."""

    statuses: list[dict[str, Any]]
    good: list[tuple[int, dict[str, Any]]]  # (index, full record)
    bad: list[BadEvent]


def prepare(events: Sequence[Any], *, received_ms: int, rules: Rules,
            user_pseudo_id: str | None, body: bytes | None = None) -> Prepared:
    statuses: list[dict[str, Any]] = []
    good: list[tuple[int, dict[str, Any]]] = []
    bad: list[BadEvent] = []
    for index, raw in enumerate(events):
        try:
            record = check(raw, received_ms, rules)
            if user_pseudo_id is None and record["anonymous_id"] is None:
                raise Rejected(ErrorCode.INVALID_EVENT,
                               "anonymous_id is required when not signed in")
        except Rejected as exc:
            cid = client_event_id(raw)
            bad.append(BadEvent(index, exc.code, exc.detail, cid, b""))
            statuses.append({"index": index, "event_id": cid, "status": REJECTED,
                             "code": exc.code, "detail": exc.detail})
            continue
        record["user_pseudo_id"] = user_pseudo_id
        record["received_at"] = received_ms
        record["fingerprint"] = fingerprint(record)
        good.append((index, record))
        statuses.append({"index": index, "event_id": record["event_id"], "status": ACCEPTED})
    if bad:
        pieces = batches.element_bytes(body) if body is not None else None
        if pieces is not None and len(pieces) != len(events):
            pieces = None
        for b in bad:
            b.raw = pieces[b.index] if pieces is not None else batches.raw_event_bytes(
                events[b.index])
    return Prepared(statuses, good, bad)


def claim_keys(conn: Connection, good: Sequence[tuple[int, dict[str, Any]]], *,
               id_seconds: int, window_seconds: int) -> set[int]:
    """Indexes of the events in `good` that are duplicates (claims the others' keys)."""
    if not good:
        return set()
    keys: list[bytes] = []
    seen: set[bytes] = set()
    per_event: list[tuple[int, bytes, bytes] | None] = []
    duplicates: set[int] = set()
    for index, record in good:
        id_key = _ID_PREFIX + bytes.fromhex(record["event_id"].replace("-", ""))
        fp_key = _FP_PREFIX + bytes.fromhex(record["fingerprint"][:32])
        if id_key in seen or fp_key in seen:  # repeated within this batch
            duplicates.add(index)
            per_event.append(None)
            continue
        seen.add(id_key)
        seen.add(fp_key)
        keys.append(id_key)
        keys.append(fp_key)
        per_event.append((index, id_key, fp_key))
    with conn.cursor(binary=True) as cur:
        rows = cur.execute(CLAIM_SQL, {"keys": b"".join(keys), "n": len(keys),
                                       "id_s": id_seconds, "fp_s": window_seconds}).fetchall()
    fresh = {bytes(r[0]) for r in rows}
    for item in per_event:
        if item is not None and not (item[1] in fresh and item[2] in fresh):
            duplicates.add(item[0])
    return duplicates


def bad_event_record(bad: BadEvent, received_ms: int, user_pseudo_id: str | None
                     ) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "event_type": "bad_event.rejected",
            "occurred_at": received_ms, "reason": bad.code, "detail": bad.detail[:2000],
            "client_event_id": bad.client_event_id, "raw_payload": bad.raw,
            "schema_version": SCHEMA_VERSION, "user_pseudo_id": user_pseudo_id}


class Unavailable(Exception):
    """The batch could not be made durable (Kafka or the registry): answer 503."""


class EventIntake:
    """One per API process (the app keeps it in `app.state`); thread-safe."""

    def __init__(self, *, bootstrap: str | None = None, raw_topic: str | None = None,
                 bad_topic: str | None = None, rules: Rules | None = None,
                 window_seconds: int | None = None, id_seconds: int | None = None,
                 delivery_timeout_s: float | None = None) -> None:
        s = get_settings()
        self.raw_topic = raw_topic or s.events_raw_topic or ANALYTICS_RAW.name
        self.bad_topic = bad_topic or s.events_bad_topic or ANALYTICS_BAD_EVENTS.name
        self.rules = rules or Rules.from_settings()
        self.window_seconds = window_seconds or s.events_dedup_window_seconds
        self.id_seconds = id_seconds or s.events_id_memory_seconds
        self.max_events = s.events_max_batch
        self._bootstrap = bootstrap
        self._delivery_timeout_s = delivery_timeout_s
        self._sender: Sender | None = None
        self._encoders: tuple[Encoder, Encoder] | None = None
        self._lock = threading.Lock()

    # --- lazily connected (the API starts even when Kafka or the registry is down) ------

    def sender(self) -> Sender:
        if self._sender is None:
            with self._lock:
                if self._sender is None:
                    self._sender = Sender(self._bootstrap,
                                          delivery_timeout_s=self._delivery_timeout_s)
        return self._sender

    def encoders(self) -> tuple[Encoder, Encoder]:
        if self._encoders is None:
            with self._lock:
                if self._encoders is None:
                    client = registry_client()
                    self._encoders = (
                        Encoder(ANALYTICS_RAW, schema_header(client, ANALYTICS_RAW)),
                        Encoder(ANALYTICS_BAD_EVENTS,
                                schema_header(client, ANALYTICS_BAD_EVENTS)))
        return self._encoders

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()

    # --- the batch ----------------------------------------------------------------------

    def handle(self, pool: ConnectionPool, body: bytes, user_id: UUID | None) -> bytes:
        """The JSON answer (202) for a raw body; raises BatchError or Unavailable."""
        events = batches.parse_batch(body, self.max_events)
        received_ms = time.time_ns() // 1_000_000
        with pool.connection() as conn:
            pseudo_id: str | None = None
            if user_id is not None:
                # Its own transaction: a pseudonym created here must commit even if Kafka
                # then fails (the per-process cache already holds it).
                with conn.transaction():
                    if pseudonyms.is_opted_out(conn, user_id):
                        return _answer([
                            {"index": i, "event_id": client_event_id(e), "status": DROPPED,
                             "code": ErrorCode.OPTED_OUT} for i, e in enumerate(events)])
                    pseudo_id = pseudonyms.pseudonym(conn, user_id)
            prepared = prepare(events, received_ms=received_ms, rules=self.rules,
                               user_pseudo_id=pseudo_id, body=body)
            if not prepared.good:  # nothing to claim: no transaction
                self.deliver(None, prepared, received_ms, pseudo_id)
            else:
                # Pipeline mode: BEGIN travels with the claim (one round trip, not two).
                with conn.pipeline(), conn.transaction():
                    # The dedup memory is not the record of truth (Kafka is): a claim lost
                    # in a Postgres crash can at worst let one duplicate through, which
                    # the lake dedups by event_id. So no WAL flush wait per batch.
                    conn.execute("set local synchronous_commit to off")
                    self.deliver(conn, prepared, received_ms, pseudo_id)
        return _answer(prepared.statuses)

    def deliver(self, conn: Connection | None, prepared: Prepared, received_ms: int,
                pseudo_id: str | None, *, bad_events: bool = True) -> None:
        """Dedup, produce and wait (inside the caller's transaction); marks statuses."""
        duplicates = claim_keys(conn, prepared.good, id_seconds=self.id_seconds,
                                window_seconds=self.window_seconds) if conn else set()
        try:
            raw_encode, bad_encode = self.encoders()
            good = []
            for index, record in prepared.good:
                if index in duplicates:
                    prepared.statuses[index]["status"] = DUPLICATE
                else:
                    good.append((record["session_id"].encode(), raw_encode(record)))
            bad = ([(None, bad_encode(bad_event_record(b, received_ms, pseudo_id)))
                    for b in prepared.bad] if bad_events else [])
            self.sender().send_many([(self.raw_topic, good), (self.bad_topic, bad)])
        except KafkaUnavailable as exc:
            raise Unavailable(str(exc)) from exc


def _answer(statuses: list[dict[str, Any]]) -> bytes:
    counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0, DROPPED: 0}
    for s in statuses:
        counts[s["status"]] += 1
    return orjson.dumps({**counts, "results": statuses})


def sweep_dedup(conn: Connection, *, limit: int = 50_000) -> int:
    """Delete expired dedup keys (a sweep of the API's sweeper; bounded per round)."""
    cur = conn.execute(
        "delete from behaviour_dedup where ctid = any(array("
        " select ctid from behaviour_dedup where expires_at < now() limit %s))", (limit,))
    return cur.rowcount
