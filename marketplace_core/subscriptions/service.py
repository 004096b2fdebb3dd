"""Seller subscriptions: the merchant's plan, its trial, renewal, and the SKU limit it sets.

Rules (spec §3.6):
- Every merchant has exactly one subscription row. It is created on FREE the first time
  anything needs it (reading it, checking the SKU limit, changing the plan).
- Moving to PRO or ENTERPRISE starts a trial of `settings.policy.trial_days` (14) days if
  the merchant never had one (one trial per merchant, ever); otherwise the plan is active
  at once and the first 30-day period is billed.
- Auto-renewal is on by default and can be turned off (and on again) while the period
  runs. `renew_subscriptions` (a periodic sweep) handles periods that ended: with
  auto-renewal a new 30-day period starts and is billed (a trial's end is the first
  bill); without it the merchant goes back to FREE.
- Moving to FREE explicitly downgrades at once (the rest of the period is forfeited; to
  keep it, turn auto-renewal off instead). Changing between paid plans starts a new,
  fully billed period (no proration).
- Billing is a `subscription_invoices` row plus a ledger entry: the merchant owes the fee
  (`subscription_receivable:<merchant>`) and the platform earns it
  (`platform_revenue:subscriptions`). Collecting the money (card, deduction from payouts)
  is outside this module.
- A downgrade never deletes SKUs: a merchant above the new limit keeps what it has but
  cannot add more until it is under the limit again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from infra.settings import get_settings
from marketplace_core import audit
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)
from marketplace_core.outbox import emit
from marketplace_core.payments import ledger
from marketplace_core.subscriptions.plans import BILLING_PERIOD, FREE, Plan, get_plan
from schemas.topics import CORE_SUBSCRIPTIONS


@dataclass(frozen=True)
class Subscription:
    id: UUID
    merchant_id: UUID
    plan_code: str
    status: str  # trialing | active
    auto_renew: bool
    current_period_start: datetime | None
    current_period_end: datetime | None
    trial_used_at: datetime | None
    sku_limit: int | None
    monthly_price: Decimal
    created_at: datetime
    updated_at: datetime


class SkuLimitReachedError(ConflictError):
    """The merchant's plan does not allow more SKUs; `details` says how many and the cap."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(ErrorCode.SKU_LIMIT_REACHED, message)
        self.details = details


_SELECT = (
    "select s.id, s.merchant_id, s.plan_code, s.status, s.auto_renew,"
    " s.current_period_start, s.current_period_end, s.trial_used_at, p.sku_limit,"
    " p.monthly_price, s.created_at, s.updated_at"
    " from subscriptions s join subscription_plans p on p.code = s.plan_code"
)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _fetch(conn: Connection, merchant_id: UUID, *, lock: bool) -> Subscription | None:
    sql = f"{_SELECT} where s.merchant_id = %s" + (" for update of s" if lock else "")
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(sql.encode(), (merchant_id,)).fetchone()


def _emit(
    conn: Connection,
    sub: Subscription,
    event_type: str,
    *,
    previous_plan: str | None = None,
    billed: Decimal | None = None,
    now: datetime | None = None,
) -> None:
    emit(
        conn, CORE_SUBSCRIPTIONS, entity_type="subscription", entity_id=sub.id,
        event_type=event_type, occurred_at=now,
        record={
            "subscription_id": sub.id, "merchant_id": sub.merchant_id, "plan": sub.plan_code,
            "previous_plan": previous_plan, "status": sub.status, "auto_renew": sub.auto_renew,
            "sku_limit": sub.sku_limit, "monthly_price": sub.monthly_price,
            "current_period_start": sub.current_period_start,
            "current_period_end": sub.current_period_end, "billed_amount": billed,
        },
    )


def _audit(conn: Connection, actor: audit.Actor | None, action: str, sub: Subscription,
           details: dict[str, Any]) -> None:
    if actor is not None:
        audit.record(conn, actor, action, "subscription", sub.id,
                     {"merchant_id": str(sub.merchant_id), **details})


def ensure_subscription(
    conn: Connection, merchant_id: UUID, *, lock: bool = False, now: datetime | None = None
) -> Subscription:
    """The merchant's subscription, created on FREE if it has none yet.

    `lock=True` also takes the row lock (FOR UPDATE) until the caller's transaction ends.
    Raises MERCHANT_NOT_FOUND.
    """
    with conn.transaction():
        existing = _fetch(conn, merchant_id, lock=lock)
        if existing is not None:
            return existing
        if not catalog.merchant_exists(conn, merchant_id):
            raise NotFoundError(ErrorCode.MERCHANT_NOT_FOUND,
                                f"merchant {merchant_id} does not exist")
        # Two first uses may race: one insert wins, the other waits for it and does nothing.
        created = conn.execute(
            "insert into subscriptions (merchant_id, plan_code, status, created_at, updated_at)"
            " values (%s, %s, 'active', %s, %s) on conflict (merchant_id) do nothing"
            " returning id",
            (merchant_id, FREE, _now(now), _now(now)),
        ).fetchone()
        sub = _fetch(conn, merchant_id, lock=lock)
        assert sub is not None
        if created is not None:
            _emit(conn, sub, "subscription.started", now=now)
        return sub


def get_subscription(conn: Connection, merchant_id: UUID) -> Subscription:
    """The merchant's subscription (FREE is created on first use). Raises MERCHANT_NOT_FOUND."""
    return ensure_subscription(conn, merchant_id)


def _update(conn: Connection, sub_id: UUID, merchant_id: UUID, **values: Any) -> Subscription:
    sets = ", ".join(f"{column} = %({column})s" for column in values)
    conn.execute(
        f"update subscriptions set {sets} where id = %(id)s".encode(), {**values, "id": sub_id})
    updated = _fetch(conn, merchant_id, lock=False)
    assert updated is not None
    return updated


def _bill(conn: Connection, sub: Subscription, plan: Plan, start: datetime,
          end: datetime) -> Decimal:
    """Bill one paid period: an invoice row and the receivable/revenue ledger entry."""
    amount = plan.monthly_price
    if amount <= 0:
        return Decimal("0.00")
    conn.execute(
        "insert into subscription_invoices (subscription_id, merchant_id, plan_code,"
        " period_start, period_end, amount) values (%s, %s, %s, %s, %s, %s)",
        (sub.id, sub.merchant_id, plan.code, start, end, amount),
    )
    ledger.post(
        conn, "subscription_billed",
        [ledger.debit(ledger.subscription_receivable(sub.merchant_id), amount),
         ledger.credit(ledger.SUBSCRIPTION_REVENUE, amount)],
        memo=f"{plan.code} {start:%Y-%m-%d}..{end:%Y-%m-%d}", subscription_id=sub.id,
    )
    return amount


def _downgrade(conn: Connection, sub: Subscription, now: datetime) -> Subscription:
    downgraded = _update(
        conn, sub.id, sub.merchant_id, plan_code=FREE, status="active", auto_renew=True,
        current_period_start=None, current_period_end=None, updated_at=now)
    _emit(conn, downgraded, "subscription.downgraded", previous_plan=sub.plan_code, now=now)
    # FREE has no ads: running campaigns pause (imported here: ads depends on us)
    from marketplace_core.ads.campaigns import pause_for_plan
    pause_for_plan(conn, sub.merchant_id, now)
    return downgraded


def change_plan(
    conn: Connection,
    merchant_id: UUID,
    plan_code: str,
    *,
    actor: audit.Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Move the merchant to `plan_code` (see the module doc for trial and billing).

    Raises MERCHANT_NOT_FOUND, PLAN_NOT_FOUND, ALREADY_ON_PLAN.
    """
    at = _now(now)
    with conn.transaction():
        plan = get_plan(conn, plan_code)
        sub = ensure_subscription(conn, merchant_id, lock=True, now=at)
        if sub.plan_code == plan.code:
            raise ConflictError(ErrorCode.ALREADY_ON_PLAN,
                                f"the merchant is already on {plan.code}")
        if not plan.is_paid:
            changed = _downgrade(conn, sub, at)
            _audit(conn, actor, "subscription.downgrade", changed, {"from": sub.plan_code})
            return changed
        if sub.trial_used_at is None:
            end = at + get_settings().policy.trial
            changed = _update(
                conn, sub.id, merchant_id, plan_code=plan.code, status="trialing",
                auto_renew=True, current_period_start=at, current_period_end=end,
                trial_used_at=at, updated_at=at)
            _emit(conn, changed, "subscription.trial_started", previous_plan=sub.plan_code,
                  now=at)
        else:
            end = at + BILLING_PERIOD
            changed = _update(
                conn, sub.id, merchant_id, plan_code=plan.code, status="active",
                auto_renew=True, current_period_start=at, current_period_end=end,
                updated_at=at)
            billed = _bill(conn, changed, plan, at, end)
            _emit(conn, changed, "subscription.started", previous_plan=sub.plan_code,
                  billed=billed, now=at)
        _audit(conn, actor, "subscription.change_plan", changed,
               {"from": sub.plan_code, "to": plan.code, "status": changed.status})
        return changed


def set_auto_renew(
    conn: Connection,
    merchant_id: UUID,
    auto_renew: bool,
    *,
    actor: audit.Actor | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Turn auto-renewal off (the plan then ends with its period) or back on.

    Unchanged → returned as is. Raises MERCHANT_NOT_FOUND, SUBSCRIPTION_NOT_RENEWABLE (FREE).
    """
    at = _now(now)
    with conn.transaction():
        sub = ensure_subscription(conn, merchant_id, lock=True, now=at)
        if sub.plan_code == FREE:
            raise ConflictError(ErrorCode.SUBSCRIPTION_NOT_RENEWABLE,
                                "the FREE plan does not renew; choose a paid plan first")
        if sub.auto_renew == auto_renew:
            return sub
        changed = _update(conn, sub.id, merchant_id, auto_renew=auto_renew, updated_at=at)
        _emit(conn, changed,
              "subscription.resumed" if auto_renew else "subscription.cancelled", now=at)
        _audit(conn, actor, "subscription.set_auto_renew", changed, {"auto_renew": auto_renew})
        return changed


def renew_subscriptions(conn: Connection, now: datetime | None = None) -> int:
    """Sweep: settle every trial or paid period that ended by `now`; returns how many
    subscriptions changed. Auto-renewing ones get a new billed 30-day period (several if
    the sweep was down for a while, each billed); the others go back to FREE."""
    at = _now(now)
    due = conn.execute(
        "select merchant_id from subscriptions where current_period_end <= %s"
        " order by current_period_end for update skip locked",
        (at,),
    ).fetchall()
    for (merchant_id,) in due:
        with conn.transaction():
            sub = _fetch(conn, merchant_id, lock=True)
            assert sub is not None and sub.current_period_end is not None
            if not sub.auto_renew:
                _downgrade(conn, sub, at)
                continue
            plan = get_plan(conn, sub.plan_code)
            while sub.current_period_end is not None and sub.current_period_end <= at:
                start = sub.current_period_end
                end = start + BILLING_PERIOD
                sub = _update(conn, sub.id, merchant_id, status="active",
                              current_period_start=start, current_period_end=end,
                              updated_at=at)
                billed = _bill(conn, sub, plan, start, end)
                _emit(conn, sub, "subscription.renewed", billed=billed, now=at)
    return len(due)


# --- the SKU limit -----------------------------------------------------------------------


def count_skus(conn: Connection, merchant_id: UUID) -> int:
    """Live (not deleted) variants across all of the merchant's shops (the catalog counts)."""
    return catalog.count_live_variants_of_merchant(conn, merchant_id)


def ensure_sku_capacity(conn: Connection, merchant_id: UUID, additional: int) -> None:
    """Raise SKU_LIMIT_REACHED (details: limit, current, plan) unless the merchant's plan
    allows `additional` more variants.

    Locks the merchant's subscription row until the caller's transaction ends, so two
    concurrent creations for one merchant are checked one after the other: the second
    counts the first's variant once the first commits. Call it in the transaction that
    creates the variants, before creating them.
    """
    if additional < 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "additional SKUs must be >= 0")
    sub = ensure_subscription(conn, merchant_id, lock=True)
    if sub.sku_limit is None:
        return
    current = count_skus(conn, merchant_id)
    if current + additional > sub.sku_limit:
        raise SkuLimitReachedError(
            f"the {sub.plan_code} plan allows {sub.sku_limit} SKUs; the merchant has"
            f" {current} and wants {additional} more",
            {"limit": sub.sku_limit, "current": current, "plan": sub.plan_code},
        )


def ensure_sku_capacity_for_product(
    conn: Connection, product_id: UUID, additional: int = 1
) -> None:
    """`ensure_sku_capacity` for the merchant selling `product_id` (catalog calls this
    before creating variants). An unknown product passes: the caller reports it."""
    merchant_id = catalog.merchant_of_product(conn, product_id)
    if merchant_id is not None:
        ensure_sku_capacity(conn, merchant_id, additional)


__all__ = [
    "SkuLimitReachedError", "Subscription", "change_plan", "count_skus",
    "ensure_sku_capacity", "ensure_sku_capacity_for_product", "ensure_subscription",
    "get_subscription", "renew_subscriptions", "set_auto_renew",
]
