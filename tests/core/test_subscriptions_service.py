"""Subscriptions against the real database: FREE on first use, trial, billing, renewal and
downgrade with explicit `now=`, and the SKU limit (including two concurrent creations)."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from marketplace_core.catalog import service as catalog
from marketplace_core.errors import ConflictError, DomainError, NotFoundError
from marketplace_core.outbox.writer import decode
from marketplace_core.payments import ledger
from marketplace_core.subscriptions import service as subs
from marketplace_core.subscriptions.plans import BILLING_PERIOD, get_plan, list_plans
from schemas.topics import CORE_SUBSCRIPTIONS

T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def _merchant(conn: psycopg.Connection[Any]) -> UUID:
    return catalog.create_merchant(conn, f"Sub merchant {secrets.token_hex(4)}").id


def _events(conn: psycopg.Connection[Any], sub_id: UUID) -> list[dict[str, Any]]:
    rows = conn.execute(
        "select payload from outbox where entity_type = 'subscription' and entity_id = %s"
        " order by id", (str(sub_id),)).fetchall()
    return [decode(CORE_SUBSCRIPTIONS, r[0]) for r in rows]


def _add_variants(conn: psycopg.Connection[Any], shop_id: UUID, count: int) -> None:
    product = catalog.create_product(conn, shop_id, "Товар")
    conn.execute(
        "insert into product_variants (product_id, shop_id, sku, price)"
        " select %s, %s, 'SKU-' || g, 100 from generate_series(1, %s) g",
        (product.id, shop_id, count))


def test_plans_are_seeded_with_limits_and_prices(conn: psycopg.Connection[Any]) -> None:
    plans = {p.code: p for p in list_plans(conn)}
    assert plans["FREE"].sku_limit == 50 and plans["FREE"].monthly_price == Decimal("0.00")
    assert plans["PRO"].sku_limit == 5000 and plans["PRO"].monthly_price == Decimal("1490.00")
    assert plans["ENTERPRISE"].sku_limit is None
    assert plans["ENTERPRISE"].monthly_price == Decimal("4990.00")
    with pytest.raises(NotFoundError) as err:
        get_plan(conn, "GOLD")
    assert err.value.code == "PLAN_NOT_FOUND"


def test_free_subscription_is_created_on_first_use_once(conn: psycopg.Connection[Any]) -> None:
    merchant_id = _merchant(conn)
    first = subs.get_subscription(conn, merchant_id)
    again = subs.get_subscription(conn, merchant_id)
    assert first.id == again.id
    assert (first.plan_code, first.status, first.sku_limit) == ("FREE", "active", 50)
    assert first.current_period_end is None
    events = _events(conn, first.id)
    assert [e["event_type"] for e in events] == ["subscription.started"]
    assert events[0]["plan"] == "FREE" and events[0]["monthly_price"] == Decimal("0.00")


def test_unknown_merchant_is_not_found(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(NotFoundError) as err:
        subs.get_subscription(conn, UUID(int=7))
    assert err.value.code == "MERCHANT_NOT_FOUND"


def test_trial_then_renewal_bills_then_downgrade(conn: psycopg.Connection[Any]) -> None:
    merchant_id = _merchant(conn)
    trial = subs.change_plan(conn, merchant_id, "PRO", now=T0)
    assert (trial.plan_code, trial.status, trial.auto_renew) == ("PRO", "trialing", True)
    assert trial.current_period_end == T0 + timedelta(days=14)
    assert trial.trial_used_at == T0
    receivable = ledger.subscription_receivable(merchant_id)
    assert ledger.balance(conn, receivable) == Decimal("0.00")  # a trial is free

    # one day before the trial ends nothing happens
    subs.renew_subscriptions(conn, now=T0 + timedelta(days=13))
    assert subs.get_subscription(conn, merchant_id).status == "trialing"

    renewed_at = T0 + timedelta(days=14)
    subs.renew_subscriptions(conn, now=renewed_at)
    renewed = subs.get_subscription(conn, merchant_id)
    assert (renewed.plan_code, renewed.status) == ("PRO", "active")
    assert renewed.current_period_start == renewed_at
    assert renewed.current_period_end == renewed_at + BILLING_PERIOD
    assert ledger.balance(conn, receivable) == Decimal("1490.00")
    invoices = conn.execute(
        "select plan_code, amount, period_start from subscription_invoices"
        " where merchant_id = %s", (merchant_id,)).fetchall()
    assert invoices == [("PRO", Decimal("1490.00"), renewed_at)]

    cancelled = subs.set_auto_renew(conn, merchant_id, False, now=renewed_at + timedelta(days=1))
    assert cancelled.auto_renew is False and cancelled.plan_code == "PRO"
    subs.renew_subscriptions(conn, now=renewed_at + BILLING_PERIOD)
    after = subs.get_subscription(conn, merchant_id)
    assert (after.plan_code, after.status, after.current_period_end) == ("FREE", "active", None)
    assert ledger.balance(conn, receivable) == Decimal("1490.00")  # no second bill

    events = _events(conn, trial.id)
    assert [e["event_type"] for e in events] == [
        "subscription.started", "subscription.trial_started", "subscription.renewed",
        "subscription.cancelled", "subscription.downgraded"]
    assert events[2]["billed_amount"] == Decimal("1490.00")
    assert events[4]["previous_plan"] == "PRO"
    assert ledger.unbalanced_entries(conn) == []


def test_second_paid_plan_has_no_trial_and_is_billed_at_once(
    conn: psycopg.Connection[Any],
) -> None:
    merchant_id = _merchant(conn)
    subs.change_plan(conn, merchant_id, "PRO", now=T0)
    subs.change_plan(conn, merchant_id, "FREE", now=T0 + timedelta(days=2))
    again = subs.change_plan(conn, merchant_id, "ENTERPRISE", now=T0 + timedelta(days=3))
    assert (again.plan_code, again.status, again.sku_limit) == ("ENTERPRISE", "active", None)
    assert again.current_period_end == T0 + timedelta(days=3) + BILLING_PERIOD
    assert ledger.balance(conn, ledger.subscription_receivable(merchant_id)) == Decimal("4990.00")
    with pytest.raises(ConflictError) as err:
        subs.change_plan(conn, merchant_id, "ENTERPRISE")
    assert err.value.code == "ALREADY_ON_PLAN"


def test_sweep_catches_up_missed_periods(conn: psycopg.Connection[Any]) -> None:
    merchant_id = _merchant(conn)
    subs.change_plan(conn, merchant_id, "PRO", now=T0)  # trial until T0+14d
    late = T0 + timedelta(days=14) + BILLING_PERIOD + timedelta(days=1)
    subs.renew_subscriptions(conn, now=late)
    sub = subs.get_subscription(conn, merchant_id)
    assert sub.current_period_end == T0 + timedelta(days=14) + 2 * BILLING_PERIOD
    assert ledger.balance(conn, ledger.subscription_receivable(merchant_id)) == Decimal("2980.00")


def test_auto_renew_cannot_be_set_on_free(conn: psycopg.Connection[Any]) -> None:
    merchant_id = _merchant(conn)
    with pytest.raises(ConflictError) as err:
        subs.set_auto_renew(conn, merchant_id, False)
    assert err.value.code == "SUBSCRIPTION_NOT_RENEWABLE"


def test_sku_limit_is_enforced_with_details(conn: psycopg.Connection[Any]) -> None:
    merchant_id = _merchant(conn)
    shop = catalog.create_shop(conn, merchant_id, "Limit shop")
    _add_variants(conn, shop.id, 49)
    subs.ensure_sku_capacity(conn, merchant_id, 1)  # the 50th fits
    with pytest.raises(subs.SkuLimitReachedError) as err:
        subs.ensure_sku_capacity(conn, merchant_id, 2)
    assert err.value.code == "SKU_LIMIT_REACHED"
    assert err.value.details == {"limit": 50, "current": 49, "plan": "FREE"}
    # deleted variants do not count
    conn.execute("update product_variants set deleted_at = now() where shop_id = %s"
                 " and sku = 'SKU-1'", (shop.id,))
    subs.ensure_sku_capacity(conn, merchant_id, 2)
    subs.change_plan(conn, merchant_id, "PRO")
    subs.ensure_sku_capacity(conn, merchant_id, 4950)


def test_two_concurrent_creations_cannot_both_pass_the_limit(core_dsn: str) -> None:
    with psycopg.connect(core_dsn) as setup:
        merchant_id = _merchant(setup)
        shop = catalog.create_shop(setup, merchant_id, "Race shop")
        _add_variants(setup, shop.id, 49)
        product = catalog.create_product(setup, shop.id, "Гонка")
        setup.commit()

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(sku: str) -> None:
        with psycopg.connect(core_dsn) as c:
            try:
                with c.transaction():
                    barrier.wait(timeout=10)
                    subs.ensure_sku_capacity(c, merchant_id, 1)
                    c.execute("insert into product_variants (product_id, shop_id, sku, price)"
                              " values (%s, %s, %s, 10)", (product.id, shop.id, sku))
                outcomes.append("created")
            except DomainError as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=create, args=(f"RACE-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["SKU_LIMIT_REACHED", "created"]
    with psycopg.connect(core_dsn) as check:
        assert subs.count_skus(check, merchant_id) == 50
