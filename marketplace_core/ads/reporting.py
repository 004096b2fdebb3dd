"""Impressions and clicks reported by the apps → `ads.events` (issue 12 §2).

`AdEventReporter.report(pool, items, reporter)` for `POST /ads/events` and
`GET /ads/click/{token}`; per item:
- a token that is not one the core signed (forged, tampered, garbage, too long) or an
  unknown event type → `rejected` (AD_TOKEN_INVALID / INVALID_AD_EVENTS), NOT published;
- anything else is published on `ads.events` (key campaign_id, acks=all), `accepted`
  when the core saw nothing wrong, else `flagged` with the `intake_flag` (never billable):
  `duplicate` (this impression_id already reported this event type: a replay, or twice
  in the batch), else `token_expired`, else `campaign_inactive` (not active, or outside
  its schedule, now), else `viewer_mismatch` (the token was served to a signed-in account
  and a DIFFERENT signed-in account reports it; a guest reporting it — a click opened in
  a browser — is not a mismatch). `own_ad`: the reporter manages the campaign's merchant,
  or the ad was served to such a seller.

Order, in one Postgres transaction: claim the dedup keys (`ad_event_dedup`), read the
campaigns' status, produce and wait for Kafka's acks, then add the accepted, not own,
events to the delivery counters (impressions, clicks, estimated spend at the token's
price), then commit. If Kafka fails, everything rolls back — nothing recorded in Postgres,
a retry is not mistaken for a duplicate — and the caller answers 503
ADS_EVENTS_UNAVAILABLE. The counters are updated after the produce so their row locks
are held for the commit only, not for Kafka's round trip.
"""

from __future__ import annotations

import random
import threading
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from infra.settings import get_settings
from marketplace_core.ads import tokens
from marketplace_core.ads.serving import SHARDS, keyed_hash
from marketplace_core.ads.wallet import today
from marketplace_core.behaviour.kafka import Encoder, KafkaUnavailable, Sender, schema_header
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode
from schemas.registry import registry_client
from schemas.topics import ADS_EVENTS

ACCEPTED, FLAGGED, REJECTED = "accepted", "flagged", "rejected"
EVENT_TYPES = ("impression", "click")
DEDUP_EXTRA_S = 86400


class Unavailable(Exception):
    """Kafka (or the registry) did not take the events: answer 503."""


@dataclass(frozen=True)
class Reporter:
    """Who reports: the signed-in account's pseudonym and merchants, the client."""

    pseudo_id: str | None
    merchant_ids: frozenset[UUID]
    address: str | None
    device_id: str | None
    user_agent: str | None


def clean_user_agent(value: str | None) -> str | None:
    """At most 256 characters, without control (or other non-printing) characters."""
    if not value:
        return None
    kept = "".join(ch for ch in value[:1024] if unicodedata.category(ch)[0] != "C")
    return kept[:256] or None


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


CLAIM_SQL = """
insert into ad_event_dedup (impression_id, event_type, expires_at)
select * from unnest(%s::uuid[], %s::text[], %s::timestamptz[])
on conflict do nothing
returning impression_id, event_type"""

DELIVERY_SQL = """
insert into ad_delivery as d (campaign_id, day, shard, impressions, clicks, spend)
select * from unnest(%s::uuid[], %s::date[], %s::smallint[], %s::bigint[], %s::bigint[],
                     %s::numeric[])
on conflict (campaign_id, day, shard) do update
    set impressions = d.impressions + excluded.impressions,
        clicks = d.clicks + excluded.clicks, spend = d.spend + excluded.spend"""


class AdEventReporter:
    """One per API process (app.state.ad_events); thread-safe, connects lazily."""

    def __init__(self, *, bootstrap: str | None = None, topic: str | None = None,
                 delivery_timeout_s: float | None = None) -> None:
        self.topic = topic or get_settings().ads_events_topic or ADS_EVENTS.name
        self._bootstrap = bootstrap
        self._timeout = delivery_timeout_s
        self._sender: Sender | None = None
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()

    def _connected(self) -> tuple[Sender, Encoder]:
        with self._lock:
            if self._encoder is None:
                self._encoder = Encoder(ADS_EVENTS, schema_header(registry_client(),
                                                                  ADS_EVENTS))
            if self._sender is None:
                self._sender = Sender(self._bootstrap, delivery_timeout_s=self._timeout)
            return self._sender, self._encoder

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()

    def report(self, pool: ConnectionPool, items: list[tuple[Any, Any]],
               reporter: Reporter, now: datetime | None = None) -> list[dict[str, Any]]:
        """Per item {index, status, code?, event_id?}; raises Unavailable."""
        at = now or datetime.now(UTC)
        results: list[dict[str, Any]] = []
        good: list[tuple[int, str, tokens.AdToken]] = []
        for index, (raw, kind) in enumerate(items):
            if kind not in EVENT_TYPES:
                results.append({"index": index, "status": REJECTED,
                                "code": ErrorCode.INVALID_AD_EVENTS,
                                "detail": "type is impression or click"})
                continue
            try:
                token = tokens.read(raw)
            except Exception:
                results.append({"index": index, "status": REJECTED,
                                "code": ErrorCode.AD_TOKEN_INVALID,
                                "detail": "the ad token is not valid"})
                continue
            good.append((index, str(kind), token))
            results.append({"index": index, "status": ACCEPTED})
        if not good:
            return results
        with pool.connection() as conn, conn.transaction():
            conn.execute("set local synchronous_commit to off")
            self._deliver(conn, good, results, reporter, at)
        return results

    def _deliver(self, conn: Connection, good: list[tuple[int, str, tokens.AdToken]],
                 results: list[dict[str, Any]], reporter: Reporter, at: datetime) -> None:
        fresh = self._claim(conn, good)
        active = self._active(conn, {t.campaign_id for _, _, t in good}, at)
        now_ms = _ms(at)
        address_hash = keyed_hash(reporter.address or "", "addr")
        device_hash = keyed_hash(reporter.device_id, "device") if reporter.device_id else None
        user_agent = clean_user_agent(reporter.user_agent)
        records: list[tuple[bytes, dict[str, Any]]] = []
        counted: list[tuple[str, tokens.AdToken]] = []
        for index, kind, t in good:
            if (index, kind) not in fresh:
                flag: str | None = "duplicate"
            elif now_ms > t.expires_at_ms:
                flag = "token_expired"
            elif t.campaign_id not in active:
                flag = "campaign_inactive"
            elif (reporter.pseudo_id is not None and t.viewer_kind == "u"
                  and t.viewer != reporter.pseudo_id):
                flag = "viewer_mismatch"
            else:
                flag = None
            own = t.own_ad or t.merchant_id in reporter.merchant_ids
            event_id = str(uuid.uuid4())
            records.append((str(t.campaign_id).encode(), {
                "event_id": event_id, "event_type": kind, "occurred_at": now_ms,
                "served_at": t.served_at_ms, "impression_id": str(t.impression_id),
                "campaign_id": str(t.campaign_id), "merchant_id": str(t.merchant_id),
                "shop_id": str(t.shop_id), "campaign_type": t.campaign_type,
                "placement": t.placement, "pricing": t.pricing, "price": t.price,
                "target_type": t.target_type,
                "target_id": str(t.target_id) if t.target_id else None,
                "position": t.position,
                "viewer_pseudo_id": t.viewer if t.viewer_kind == "u" else None,
                "session_id": t.viewer if t.viewer_kind == "s" else None,
                "device_hash": device_hash, "address_hash": address_hash,
                "user_agent": user_agent, "own_ad": own, "intake_flag": flag,
                "experiment_arm": t.experiment_arm}))
            results[index].update(event_id=event_id, impression_id=str(t.impression_id))
            if flag is not None:
                results[index].update(status=FLAGGED, code=flag)
            elif not own:
                counted.append((kind, t))
        try:
            sender, encode = self._connected()
            sender.send(self.topic, [(key, encode(rec)) for key, rec in records])
        except KafkaUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        self._count(conn, counted, at)

    def _claim(self, conn: Connection, good: list[tuple[int, str, tokens.AdToken]]
               ) -> set[tuple[int, str]]:
        """(index, type) of the items whose (impression_id, type) was not reported yet."""
        first: dict[tuple[UUID, str], int] = {}
        for index, kind, t in good:
            first.setdefault((t.impression_id, kind), index)
        keys = list(first)
        expires = [datetime.fromtimestamp(
            next(t.expires_at_ms for _, k, t in good if (t.impression_id, k) == key) / 1000
            + DEDUP_EXTRA_S, UTC) for key in keys]
        rows = conn.execute(CLAIM_SQL, ([k[0] for k in keys], [k[1] for k in keys],
                                        expires)).fetchall()
        return {(first[(r[0], r[1])], r[1]) for r in rows}

    @staticmethod
    def _active(conn: Connection, ids: set[UUID], at: datetime) -> set[UUID]:
        day = today(at)
        return {r[0] for r in conn.execute(
            "select id from ad_campaigns where id = any(%s) and status = 'active'"
            " and start_date <= %s and end_date >= %s", (list(ids), day, day)).fetchall()}

    @staticmethod
    def _count(conn: Connection, counted: list[tuple[str, tokens.AdToken]],
               at: datetime) -> None:
        if not counted:
            return
        agg: dict[UUID, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
        for kind, t in counted:
            row = agg[t.campaign_id]
            if kind == "impression":
                row[0] += 1
                if t.pricing == "cpm":
                    row[2] += t.price / 1000
            else:
                row[1] += 1
                if t.pricing == "cpc":
                    row[2] += t.price
        day = today(at)
        ids = sorted(agg)  # a fixed order: concurrent batches lock rows in the same order
        shard = random.randrange(SHARDS)
        conn.execute(DELIVERY_SQL, (ids, [day] * len(ids), [shard] * len(ids),
                                    [agg[i][0] for i in ids], [agg[i][1] for i in ids],
                                    [agg[i][2] for i in ids]))


def sweep(conn: Connection) -> int:
    """Forget expired dedup keys and frequency counts of past days (bounded per round)."""
    n = conn.execute(
        "delete from ad_event_dedup where ctid = any(array(select ctid from ad_event_dedup"
        " where expires_at < now() limit 50000))").rowcount
    n += conn.execute(
        "delete from ad_frequency where ctid = any(array(select ctid from ad_frequency"
        " where day < %s limit 50000))", (today(),)).rowcount
    return n
