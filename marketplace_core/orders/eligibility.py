"""Buy eligibility of a shop (spec §3.4): may buyers pay online, or only contact the shop?

A shop is `online_purchase` while its POS is live (`pos.liveness`: an active terminal heard
from at most `settings.policy.pos_heartbeat_timeout_minutes` ago) AND its payout status is active
(the catalog's shop, set by `payments.payout_accounts`); otherwise it is `manual_contact`
and the product card offers contact / call / request-availability instead of "Buy".

The live value is always computed from those inputs (`shop_eligibility`). The table
`shop_eligibility` remembers what was last announced; `refresh` compares and emits
`shop_eligibility.changed` exactly once per change. Callers refresh after a heartbeat and
after payout onboarding/suspension; `sweep_stale_pos` catches terminals that went silent
(a change driven by time alone, which no request would notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, NotFoundError
from marketplace_core.outbox import emit
from marketplace_core.pos import liveness
from schemas.topics import CORE_SHOP_ELIGIBILITY

Mode = Literal["online_purchase", "manual_contact"]
ONLINE: Mode = "online_purchase"
MANUAL: Mode = "manual_contact"

POS_INACTIVE = "POS_INACTIVE"
PAYOUT_INACTIVE = "PAYOUT_INACTIVE"


@dataclass(frozen=True)
class ContactAction:
    """What a product card offers instead of (or besides) "Buy"."""

    type: str  # buy | contact | call | request_availability
    phone: str | None = None


@dataclass(frozen=True)
class Eligibility:
    shop_id: UUID
    merchant_id: UUID
    mode: Mode
    reasons: tuple[str, ...]
    payout_status: str
    last_heartbeat_at: datetime | None
    phone: str | None
    computed_at: datetime

    @property
    def can_buy_online(self) -> bool:
        return self.mode == ONLINE

    @property
    def actions(self) -> tuple[ContactAction, ...]:
        # Chat ("contact") is always there; "call" only if the shop published a phone.
        call = (ContactAction("call", self.phone),) if self.phone else ()
        if self.mode == ONLINE:
            return (ContactAction("buy"), ContactAction("contact"), *call)
        return (ContactAction("contact"), *call, ContactAction("request_availability"))


def heartbeat_timeout() -> timedelta:
    """The POS rule's timeout (`pos.liveness.heartbeat_timeout`)."""
    return liveness.heartbeat_timeout()


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _evaluate(shop: catalog.Shop, heartbeat: datetime | None, now: datetime) -> Eligibility:
    reasons: list[str] = []
    if not liveness.is_fresh(heartbeat, now):
        reasons.append(POS_INACTIVE)
    if shop.payout_status != "active":
        reasons.append(PAYOUT_INACTIVE)
    phone = shop.phone
    return Eligibility(
        shop_id=shop.id, merchant_id=shop.merchant_id, mode=MANUAL if reasons else ONLINE,
        reasons=tuple(reasons), payout_status=shop.payout_status, last_heartbeat_at=heartbeat,
        phone=phone if isinstance(phone, str) and phone.strip() else None, computed_at=now,
    )


def shop_eligibility(conn: Connection, shop_id: UUID, now: datetime | None = None) -> Eligibility:
    """The shop's live eligibility at `now` (default: the current time). SHOP_NOT_FOUND."""
    found = eligibility_of_shops(conn, [shop_id], now)
    if not found:
        raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
    return found[0]


def eligibility_of_shops(
    conn: Connection, shop_ids: list[UUID], now: datetime | None = None
) -> list[Eligibility]:
    """Live eligibility of several shops (unknown ids are skipped), in the given order."""
    at = _now(now)
    shops = catalog.get_shops(conn, shop_ids)
    heartbeats = liveness.last_heartbeats(conn, [s.id for s in shops]) if shops else {}
    by_id = {shop.id: _evaluate(shop, heartbeats.get(shop.id), at) for shop in shops}
    return [by_id[s] for s in shop_ids if s in by_id]


def refresh(conn: Connection, shop_id: UUID, now: datetime | None = None) -> Eligibility:
    """`refresh_changed` without the flag: the shop's eligibility after the refresh."""
    return refresh_changed(conn, shop_id, now)[0]


def refresh_changed(
    conn: Connection, shop_id: UUID, now: datetime | None = None
) -> tuple[Eligibility, bool]:
    """Recompute the shop's eligibility; if it differs from the last announced state (mode
    or reasons), store it and emit `shop_eligibility.changed` — once per change, and also
    the first time a shop is refreshed. Returns the state and whether it changed.

    The shop's stored row is locked first, so concurrent refreshes of one shop serialise
    and cannot both announce the same change. Raises SHOP_NOT_FOUND.
    """
    at = _now(now)
    with conn.transaction():
        # A placeholder row for a shop never announced before; `inserted` marks the first
        # time (a concurrent first refresh waits on the key, then finds the row).
        if catalog.merchant_of_shop(conn, shop_id) is None:
            raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
        inserted = conn.execute(
            "insert into shop_eligibility (shop_id, mode, reasons, computed_at, changed_at)"
            " values (%s, 'manual_contact', '{}', %s, %s)"
            " on conflict (shop_id) do nothing returning shop_id",
            (shop_id, at, at),
        ).fetchone() is not None
        stored = conn.execute(
            "select mode, reasons from shop_eligibility where shop_id = %s for update",
            (shop_id,),
        ).fetchone()
        if stored is None:
            raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
        old_mode, old_reasons = stored
        live = shop_eligibility(conn, shop_id, at)
        if not inserted and old_mode == live.mode and tuple(old_reasons) == live.reasons:
            conn.execute("update shop_eligibility set computed_at = %s where shop_id = %s",
                         (at, shop_id))
            return live, False
        conn.execute(
            "update shop_eligibility set mode = %s, reasons = %s, computed_at = %s,"
            " changed_at = %s where shop_id = %s",
            (live.mode, list(live.reasons), at, at, shop_id),
        )
        _emit_changed(conn, live, previous_mode=None if inserted else old_mode)
    return live, True


def refresh_shops_of_merchant(
    conn: Connection, merchant_id: UUID, now: datetime | None = None
) -> list[Eligibility]:
    """`refresh` every shop of a merchant (after its payout account changed)."""
    return [refresh(conn, shop_id, now)
            for shop_id in catalog.shop_ids_of_merchant(conn, merchant_id)]


def stored_mode(conn: Connection, shop_id: UUID) -> str | None:
    """The last announced mode of a shop (None if never announced)."""
    row = conn.execute(
        "select mode from shop_eligibility where shop_id = %s", (shop_id,)
    ).fetchone()
    return str(row[0]) if row else None


def sweep_stale_pos(conn: Connection, now: datetime | None = None) -> int:
    """Announce shops whose terminals went silent: the stored state still says the POS is
    fine (no POS_INACTIVE reason) but no active terminal was heard within the timeout.
    Returns how many shops changed. Shops being refreshed by someone else are skipped
    (SKIP LOCKED) and picked up by the next round if still stale."""
    at = _now(now)
    live = liveness.shops_heard_since(conn, at - heartbeat_timeout())
    candidates = conn.execute(
        """select se.shop_id from shop_eligibility se
            where not (%s = any(se.reasons)) and not (se.shop_id = any(%s))
            order by se.shop_id
            for update skip locked""",
        (POS_INACTIVE, list(live)),
    ).fetchall()
    return sum(1 for (shop_id,) in candidates if refresh_changed(conn, shop_id, at)[1])


def _emit_changed(conn: Connection, state: Eligibility, *, previous_mode: str | None) -> None:
    emit(
        conn, CORE_SHOP_ELIGIBILITY,
        entity_type="shop_eligibility", entity_id=state.shop_id,
        event_type="shop_eligibility.changed",
        record={
            "shop_id": state.shop_id,
            "merchant_id": state.merchant_id,
            "mode": state.mode,
            "previous_mode": previous_mode,
            "reasons": list(state.reasons),
            "payout_status": state.payout_status,
            "last_heartbeat_at": state.last_heartbeat_at,
            "computed_at": state.computed_at,
        },
    )
