"""The `chat_started` metric (seed 000 §5, §22: shop_metric_daily.chats_started): when a
conversation is opened, a behavioural event `chat_started` goes to `analytics.raw`, the
topic of the apps' own events (POST /events), so the lake's `shop_engagement_daily.chats`
counts it like any other behavioural event (target: the product, or the shop; the surface
the buyer opened it from; the account's pseudonym, never its id).

It is published the way the intake publishes (`EventIntake.deliver`: the id and content
claims in `behaviour_dedup`, acks=all), by the sweep `publish_started`, from the
conversations not yet announced (`started_event_at is null`), and marked in the same
transaction that waited for Kafka's acknowledgement. Kafka down: the transaction rolls
back and the next round sends them. The event id is the conversation's id, so a crash
between the acknowledgement and the commit can at worst send one again under the same
id, which the lake deduplicates. Accounts that opted out of analytics are marked and
never published. Why not the outbox: `analytics.raw` is written by the API's intake as
well, and the outbox relay's restart reconciliation would have to read through all of it.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from marketplace_core.accounts import pseudonyms
from marketplace_core.behaviour.intake import ACCEPTED, EventIntake, Prepared, fingerprint
from marketplace_core.db import Connection

log = logging.getLogger("marketplace_core.chat.analytics")

_intake: EventIntake | None = None
_lock = threading.Lock()


def _process_intake() -> EventIntake:
    global _intake
    with _lock:
        if _intake is None:
            _intake = EventIntake()
        return _intake


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def started_record(conversation_id: Any, shop_id: Any, subject_type: str, subject_id: Any,
                   surface: str, session_id: str | None, created_at: datetime,
                   pseudo_id: str, received_ms: int) -> dict[str, Any]:
    product = subject_type == "product"
    record: dict[str, Any] = {
        "event_id": str(conversation_id), "event_type": "chat_started",
        "occurred_at": _ms(created_at), "received_at": received_ms,
        "target_type": "product" if product else "shop",
        "target_id": str(subject_id if product else shop_id),
        "session_id": session_id or f"chat:{conversation_id}", "user_pseudo_id": pseudo_id,
        "anonymous_id": None, "surface": surface, "position": None, "search_query": None,
        "lat": None, "lon": None, "platform": None, "app_version": None, "utm_source": None,
        "utm_medium": None, "utm_campaign": None, "referrer": None,
    }
    record["fingerprint"] = fingerprint(record)
    return record


def publish_started(conn: Connection, intake: EventIntake | None = None, *,
                    limit: int = 500) -> int:
    """Publish `chat_started` for conversations not yet announced (oldest first, at most
    `limit`); returns how many were marked. Runs in the caller's transaction."""
    rows = conn.execute(
        "select id, buyer_id, shop_id, subject_type, subject_id, surface, session_id,"
        " created_at from chat_conversations where started_event_at is null"
        " order by created_at limit %s for update skip locked", (limit,)).fetchall()
    if not rows:
        return 0
    received_ms = _ms(datetime.now(UTC))
    good: list[tuple[int, dict[str, Any]]] = []
    statuses: list[dict[str, Any]] = []
    for row in rows:
        cid, buyer_id, shop_id, subject_type, subject_id, surface, session, created = row
        if pseudonyms.is_opted_out(conn, buyer_id):
            continue
        record = started_record(cid, shop_id, subject_type, subject_id, surface, session,
                                created, pseudonyms.pseudonym(conn, buyer_id), received_ms)
        statuses.append({"index": len(good), "event_id": record["event_id"],
                         "status": ACCEPTED})
        good.append((len(good), record))
    if good:
        (intake or _process_intake()).deliver(conn, Prepared(statuses, good, []), received_ms,
                                              None, bad_events=False)
    conn.execute("update chat_conversations set started_event_at = now() where id = any(%s)",
                 ([r[0] for r in rows],))
    log.debug("chat_started: %d published, %d opted out", len(good), len(rows) - len(good))
    return len(rows)
