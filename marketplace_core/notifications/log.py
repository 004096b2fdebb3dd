"""The delivery log (`notification_log`), which is also the worker's retry queue.

* `enqueue` turns one notify.* event into rows: recipients resolved, preferences applied
  (the channel chain push → email → sms), deduplicated, `queued`. It runs in the worker's
  transaction; the Kafka offset is committed only after it commits. A redelivered event
  finds its rows (unique event, recipient, channel) and adds nothing.
* `claim_due` takes due `queued` rows (FOR UPDATE SKIP LOCKED: several workers never take
  the same row), marks them `sending` and counts the attempt, committed before the
  provider is called.
* the outcome of an attempt: `record_sent`, `record_failure` (a retry with backoff,
  or `failed` and the next channel of the chain), `defer` (quiet hours), `suppress`.
* `apply_status`: a provider's webhook says delivered or failed.
* `recover_interrupted`: rows a dead worker left `sending`.

Idempotency key (seed 000 §25.6) = sha256(type, recipient, payload); one key is accepted
once per dedup window (NOTIFY_DEDUP_WINDOW_SECONDS, 5 min): a second one within the window
is logged `suppressed` ("duplicate").
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from infra.settings import get_settings
from marketplace_core.accounts import ownership
from marketplace_core.accounts import service as accounts
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.notifications import preferences
from marketplace_core.notifications.catalog import TYPES

log = logging.getLogger("marketplace_core.notifications.log")

SENT_STATUSES = ("sent", "delivered")


@dataclass(frozen=True)
class NotifyEvent:
    event_id: UUID
    event_type: str
    occurred_at: datetime
    audience: str
    recipient_user_id: UUID | None
    recipient_shop_id: UUID | None
    shop_id: UUID | None
    entity_type: str
    entity_id: str
    priority: str
    consent: str
    data: dict[str, str]

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> NotifyEvent:
        """From a decoded notify.* record; raises ValueError when it cannot be used."""
        def uid(v: Any) -> UUID | None:
            return None if v is None else (v if isinstance(v, UUID) else UUID(str(v)))

        data = json.loads(r["data_json"])
        if not isinstance(data, dict):
            raise ValueError("data_json is not an object")
        event_id = uid(r["event_id"])
        if event_id is None:
            raise ValueError("no event_id")
        return cls(event_id, str(r["event_type"]), r["occurred_at"], str(r["audience"]),
                   uid(r.get("recipient_user_id")), uid(r.get("recipient_shop_id")),
                   uid(r.get("shop_id")), str(r["entity_type"]), str(r["entity_id"]),
                   str(r["priority"]), str(r["consent"]),
                   {str(k): str(v) for k, v in data.items()})


def idempotency_key(event_type: str, recipient: UUID, payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{event_type}|{recipient}|{canonical}".encode()).hexdigest()


def recipients(conn: Connection, event: NotifyEvent) -> list[UUID]:
    """The users an event is for: its user, or every active manager of its shop."""
    if event.audience == "user" and event.recipient_user_id is not None:
        user = accounts.get_user(conn, event.recipient_user_id)
        return [user.id] if user is not None and user.is_active else []
    if event.audience == "shop" and event.recipient_shop_id is not None:
        merchant_id = catalog.merchant_of_shop(conn, event.recipient_shop_id)
        if merchant_id is None:
            return []
        return ownership.active_members_of_merchant(conn, merchant_id)
    return []


def enqueue(conn: Connection, event: NotifyEvent, now: datetime, *,
            channels: list[str] | None = None, wake: bool = True) -> list[UUID]:
    """Queue `event` for each recipient; returns the ids of the rows written (queued or
    suppressed). An unknown type or nobody to tell is logged and queues nothing.
    `channels` replaces the preferences' chain (a test message on one channel); `wake`
    NOTIFYs the dispatchers at commit (the worker does it once per batch instead)."""
    ntype = TYPES.get(event.event_type)
    if ntype is None:
        log.warning("notification %s: unknown type %r, skipped", event.event_id,
                    event.event_type)
        return []
    consent = event.consent if event.consent in ("transactional", "marketing") \
        else ntype.consent
    people = recipients(conn, event)
    if not people:
        log.info("notification %s (%s): no recipient, skipped", event.event_id, ntype.key)
        return []
    shop_prefs = preferences.load(conn, "shop", event.shop_id) if event.shop_id else None
    window = timedelta(seconds=get_settings().policy.notify_dedup_window_seconds)
    payload = {"audience": event.audience, "entity_type": event.entity_type,
               "entity_id": event.entity_id, "data": event.data}
    written: list[UUID] = []
    for user_id in people:
        if conn.execute("select 1 from notification_log where event_id = %s"
                        " and recipient_user_id = %s limit 1",
                        (event.event_id, user_id)).fetchone():
            continue  # a redelivery of an event already queued
        user_prefs = preferences.load(conn, "user", user_id)
        chain = preferences.channel_chain(user_prefs, shop_prefs, ntype, event.shop_id,
                                          consent)
        if channels is not None and (consent != "marketing" or user_prefs.marketing_consent):
            chain = list(channels)
        key = idempotency_key(ntype.key, user_id, payload)
        status, reason = "queued", None
        if not chain:
            status = "suppressed"
            reason = ("no marketing consent" if consent == "marketing"
                      and not user_prefs.marketing_consent
                      else "no channel allowed by the preferences")
        elif not _first_within_window(conn, key, now, window):
            status, reason = "suppressed", "duplicate within the dedup window"
        written.append(_insert(conn, event, user_id, chain or ["push"], ntype.template,
                               user_prefs.locale or _account_language(conn, user_id),
                               ntype.category, consent, payload, key, status, reason, now))
        if status != "queued":
            announce(conn, written[-1], now)
            log.info("notification %s to user %s: %s", event.event_id, user_id, reason)
    if written and wake:
        conn.execute("select pg_notify('notifications', '')")
    return written


def _account_language(conn: Connection, user_id: UUID) -> str:
    user = accounts.get_user(conn, user_id)
    return str(user.preferred_language) if user is not None else "ru"


def _first_within_window(conn: Connection, key: str, now: datetime,
                         window: timedelta) -> bool:
    """Claim `key` for the window; False if it was claimed less than `window` ago."""
    row = conn.execute(
        "insert into notification_dedup (key, first_seen) values (%s, %s)"
        " on conflict (key) do update set first_seen = excluded.first_seen"
        " where notification_dedup.first_seen <= %s returning key",
        (key, now, now - window)).fetchone()
    return row is not None


def _insert(conn: Connection, event: NotifyEvent, user_id: UUID, chain: list[str],
            template: str, locale: str, category: str, consent: str,
            payload: dict[str, Any], key: str,
            status: str, reason: str | None, now: datetime) -> UUID:
    row = conn.execute(
        "insert into notification_log (event_id, event_type, recipient_user_id, shop_id,"
        " channel, fallback, template_key, locale, category, priority, consent, payload_json,"
        " idempotency_key, status, last_error, next_attempt_at, created_at, updated_at)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " on conflict (event_id, recipient_user_id, channel) do nothing returning id",
        (event.event_id, event.event_type, user_id, event.shop_id, chain[0], chain[1:],
         template, locale, category, event.priority if event.priority in ("high", "normal")
         else "normal", consent, Jsonb(payload), key, status, reason,
         now if status == "queued" else None, now, now)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


# --- announcing settled states (notify.deliveries, for the lake) -------------------------

def announce(conn: Connection, row_id: UUID, now: datetime) -> None:
    """Publish the row's state (through the outbox, in the caller's transaction). Only
    settled states are announced: sent, delivered, failed, suppressed."""
    from marketplace_core.outbox import emit
    from schemas.topics import NOTIFY_DELIVERIES

    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("select * from notification_log where id = %s",
                          (row_id,)).fetchone()
    if row is None or row["status"] not in ("sent", "delivered", "failed", "suppressed"):
        return
    emit(conn, NOTIFY_DELIVERIES, entity_type="notification", entity_id=row["id"],
         event_type=f"notification.{row['status']}", occurred_at=now,
         record={"notification_id": row["id"], "source_event_id": row["event_id"],
                 "notification_type": row["event_type"], "category": row["category"],
                 "channel": row["channel"], "priority": row["priority"],
                 "consent": row["consent"], "shop_id": row["shop_id"],
                 "status": row["status"], "provider": row["provider"],
                 "attempts": int(row["attempts"]),
                 "last_error": (row["last_error"] or None) and row["last_error"][:500],
                 "created_at": row["created_at"], "sent_at": row["sent_at"],
                 "delivered_at": row["delivered_at"]})


# --- the queue ----------------------------------------------------------------------------

def claim_due(conn: Connection, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """Due rows, marked `sending` with the attempt counted (high priority first)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "update notification_log set status = 'sending', attempts = attempts + 1,"
            " updated_at = %s where id in (select id from notification_log"
            "   where status = 'queued' and next_attempt_at <= %s"
            "   order by (priority = 'high') desc, next_attempt_at limit %s"
            "   for update skip locked) returning *",
            (now, now, limit)).fetchall()


def record_sent(conn: Connection, row_id: UUID, provider: str, provider_ref: str,
                to_masked: str, now: datetime) -> None:
    conn.execute(
        "update notification_log set status = 'sent', provider = %s, provider_ref = %s,"
        " to_masked = %s, sent_at = %s, updated_at = %s, last_error = null,"
        " next_attempt_at = null where id = %s and status = 'sending'",
        (provider, provider_ref, to_masked, now, now, row_id))
    announce(conn, row_id, now)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1 m → 5 m → 15 m, then 15 m)."""
    delays = [float(x) for x in get_settings().notify_retry_delays_seconds.split(",") if x]
    return timedelta(seconds=delays[min(attempts, len(delays)) - 1])


def record_failure(conn: Connection, row: dict[str, Any], reason: str, *, permanent: bool,
                   now: datetime, provider: str | None = None,
                   to_masked: str | None = None) -> str:
    """A failed attempt: retried later, or failed for good and handed to the next channel.
    Returns the row's new status."""
    attempts = int(row["attempts"])
    if not permanent and attempts < get_settings().policy.notify_max_attempts:
        conn.execute(
            "update notification_log set status = 'queued', next_attempt_at = %s,"
            " last_error = %s, provider = coalesce(%s, provider),"
            " to_masked = coalesce(%s, to_masked), updated_at = %s where id = %s",
            (now + retry_delay(attempts), reason, provider, to_masked, now, row["id"]))
        return "queued"
    conn.execute(
        "update notification_log set status = 'failed', last_error = %s, next_attempt_at = null,"
        " provider = coalesce(%s, provider), to_masked = coalesce(%s, to_masked),"
        " updated_at = %s where id = %s",
        (reason, provider, to_masked, now, row["id"]))
    announce(conn, row["id"], now)
    fall_back(conn, row, now)
    return "failed"


def suppress(conn: Connection, row: dict[str, Any], reason: str, now: datetime, *,
             fallback: bool) -> None:
    conn.execute(
        "update notification_log set status = 'suppressed', last_error = %s,"
        " next_attempt_at = null, attempts = greatest(attempts - 1, 0), updated_at = %s"
        " where id = %s", (reason, now, row["id"]))
    announce(conn, row["id"], now)
    if fallback:
        fall_back(conn, row, now)


def fall_back(conn: Connection, row: dict[str, Any], now: datetime) -> UUID | None:
    """Queue the same notification on the next channel of its chain, if any."""
    chain = list(row["fallback"] or [])
    if not chain:
        return None
    new = conn.execute(
        "insert into notification_log (event_id, event_type, recipient_user_id, shop_id,"
        " channel, fallback, template_key, locale, category, priority, consent, payload_json,"
        " idempotency_key, status, next_attempt_at, created_at, updated_at)"
        " select event_id, event_type, recipient_user_id, shop_id, %s, %s, template_key,"
        " locale, category, priority, consent, payload_json, idempotency_key, 'queued', %s,"
        " %s, %s from notification_log where id = %s"
        " on conflict (event_id, recipient_user_id, channel) do nothing returning id",
        (chain[0], chain[1:], now, now, now, row["id"])).fetchone()
    if new is not None:
        log.info("notification %s: falling back from %s to %s", row["id"], row["channel"],
                 chain[0])
        conn.execute("select pg_notify('notifications', '')")
    return new[0] if new else None


def defer(conn: Connection, row: dict[str, Any], until: datetime, now: datetime) -> None:
    """Quiet hours: back to the queue until they end; the attempt does not count."""
    conn.execute(
        "update notification_log set status = 'queued', next_attempt_at = %s,"
        " attempts = attempts - 1, last_error = 'held: quiet hours', updated_at = %s"
        " where id = %s", (until, now, row["id"]))


def sent_within(conn: Connection, user_id: UUID, channel: str, now: datetime,
                period: timedelta = timedelta(days=1)) -> int:
    row = conn.execute(
        "select count(*) from notification_log where recipient_user_id = %s and channel = %s"
        " and status in ('sent', 'delivered') and sent_at > %s",
        (user_id, channel, now - period)).fetchone()
    return int(row[0]) if row else 0


def apply_status(conn: Connection, provider: str, provider_ref: str, status: str,
                 error: str | None, now: datetime) -> dict[str, Any] | None:
    """A provider's report on a sent message. Returns the row, or None if unknown."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("select * from notification_log where provider = %s"
                          " and provider_ref = %s for update",
                          (provider, provider_ref)).fetchone()
    if row is None:
        return None
    if row["status"] != "sent":
        return row  # a repeated or late report: already settled
    if status == "delivered":
        conn.execute("update notification_log set status = 'delivered', delivered_at = %s,"
                     " updated_at = %s where id = %s", (now, now, row["id"]))
        announce(conn, row["id"], now)
    else:
        conn.execute("update notification_log set status = 'failed', last_error = %s,"
                     " updated_at = %s where id = %s",
                     ((error or "the provider reported a failure")[:500], now, row["id"]))
        announce(conn, row["id"], now)
        fall_back(conn, row, now)
    return row


def recover_interrupted(conn: Connection, idempotent_channels: set[str], older_than: datetime,
                        now: datetime) -> int:
    """Rows left `sending` by a worker that died mid-attempt. On an idempotent provider
    the attempt is repeated (the provider drops a key it has already seen); otherwise its
    outcome is unknown and it is failed rather than risk a second message."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select * from notification_log where status = 'sending'"
                           " and updated_at < %s for update skip locked",
                           (older_than,)).fetchall()
    for row in rows:
        if row["channel"] in idempotent_channels:
            conn.execute("update notification_log set status = 'queued', next_attempt_at = %s,"
                         " attempts = attempts - 1, updated_at = %s where id = %s",
                         (now, now, row["id"]))
        else:
            conn.execute(
                "update notification_log set status = 'failed', last_error = %s,"
                " updated_at = %s where id = %s",
                ("interrupted while sending: outcome unknown, not sent again", now, row["id"]))
            announce(conn, row["id"], now)
    conn.execute("delete from notification_dedup where first_seen < %s",
                 (now - timedelta(seconds=get_settings().policy.notify_dedup_window_seconds),))
    return len(rows)
