"""The ad wallet: PSP top-ups, idempotent capped charges, credits, the monthly statement,
and the never-negative rule enforced by the database under concurrency."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from marketplace_core.accounts import service as accounts
from marketplace_core.accounts.principal import AuthenticatedUser
from marketplace_core.ads import billing, campaigns, wallet
from marketplace_core.catalog import service as catalog
from marketplace_core.errors import DomainError
from marketplace_core.payments import ledger
from marketplace_core.payments.webhooks import receive_psp_webhook
from marketplace_core.subscriptions import service as subscriptions
from tests.core.ads.ads_helpers import code, fund, pro_seller

BISHKEK = wallet.bishkek()


def _at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BISHKEK)


def _admin(conn: Any) -> AuthenticatedUser:
    reg = accounts.register_user(conn, email=f"adm-{secrets.token_hex(5)}@test.example.kg",
                                 password="correct horse battery staple", full_name="Admin",
                                 role="admin", password_rounds=4)
    return AuthenticatedUser(reg.user.id, "admin")


def _merchant(conn: Any, at: datetime) -> tuple[UUID, UUID]:
    merchant = catalog.create_merchant(conn, f"M {secrets.token_hex(4)}").id
    shop = catalog.create_shop(conn, merchant, f"S {secrets.token_hex(4)}", address="Osh bazaar")
    subscriptions.change_plan(conn, merchant, "PRO", now=at)
    return merchant, shop.id


def _topup(conn: Any, admin: Any, merchant: UUID, amount: str, at: datetime) -> None:
    t = wallet.start_topup(conn, admin, merchant, Decimal(amount), now=at)
    done = wallet.process_topup_event(conn, t.provider, t.psp_payment_id, "payment.succeeded",
                                      t.amount, None, Decimal("0.00"), now=at)
    assert done == ("processed", None)


def _running(conn: Any, admin: Any, merchant: UUID, shop: UUID, at: datetime,
             daily: str = "300.00", total: str = "3000.00") -> campaigns.Campaign:
    product = catalog.create_product(conn, shop, f"Товар {secrets.token_hex(3)}").id
    c = campaigns.create_campaign(conn, admin, campaigns.CampaignInput(
        shop_id=shop, name="Кампания", type="search", pricing="cpc", bid=Decimal("10.00"),
        daily_budget=Decimal(daily), total_budget=Decimal(total),
        start_date=wallet.today(at), end_date=wallet.today(at) + timedelta(days=59),
        creative=campaigns.CreativeInput(product_ids=[product])), now=at)
    campaigns.act(conn, admin, c.id, "submit", now=at)
    return campaigns.act(conn, admin, c.id, "approve", now=at)


def test_topup_is_credited_once_when_the_psp_confirms(api: Any) -> None:
    seller, merchant_id, _ = pro_seller(api)
    r = api.post("/ads/wallet/topups", headers=seller.headers, json={"amount": "1000.00"})
    assert r.status_code == 201 and r.json()["status"] == "pending"
    topup = r.json()
    assert api.get("/ads/wallet", headers=seller.headers).json()["balance"] == "0.00"
    for _ in range(2):  # the PSP retries: the same event id, credited once
        paid = api.post(f"/psp-sim/payments/{topup['psp_payment_id']}/pay")
        assert paid.json()["webhook_status"] == 200, paid.text
    w = api.get("/ads/wallet", headers=seller.headers).json()
    assert w["balance"] == "1000.00" and w["topups"][0]["status"] == "succeeded"
    # a failed top-up credits nothing
    r = api.post("/ads/wallet/topups", headers=seller.headers, json={"amount": "300.00"})
    failed = api.post(f"/psp-sim/payments/{r.json()['psp_payment_id']}/fail")
    assert failed.json()["webhook_status"] == 200
    w = api.get("/ads/wallet", headers=seller.headers).json()
    assert w["balance"] == "1000.00" and w["topups"][0]["status"] == "failed"
    # a forged amount is refused and recorded, nothing credited
    r = api.post("/ads/wallet/topups", headers=seller.headers, json={"amount": "200.00"})
    body = (b'{"event_id": "evt_forged_%s", "type": "payment.succeeded", "psp_payment_id": "%s",'
            b' "amount": "20000.00"}' % (secrets.token_hex(4).encode(),
                                        r.json()["psp_payment_id"].encode()))
    from marketplace_core.payments.webhooks import sign
    with pytest.raises(DomainError) as err:
        receive_psp_webhook(api.app.state.pool, body, sign(body))
    assert err.value.code == "AMOUNT_MISMATCH"
    assert api.get("/ads/wallet", headers=seller.headers).json()["balance"] == "1000.00"
    assert merchant_id


def test_charges_are_idempotent_capped_and_never_bill_a_paused_day(conn: Any) -> None:
    d0 = wallet.today() - timedelta(days=5)
    admin = _admin(conn)
    merchant, shop = _merchant(conn, _at(d0, 9))
    _topup(conn, admin, merchant, "1000.00", _at(d0, 9))
    c = _running(conn, admin, merchant, shop, _at(d0, 10))
    assert c.status == "active" and c.held == Decimal("300.00")

    first = billing.charge(conn, c.id, d0, Decimal("120.50"), "bill-1", now=_at(d0, 23))
    assert (first.charged, first.capped_by, first.from_hold) == (Decimal("120.50"), None,
                                                                  Decimal("120.50"))
    again = billing.charge(conn, c.id, d0, Decimal("120.50"), "bill-1", now=_at(d0, 23))
    assert again.replayed and again.id == first.id
    with pytest.raises(DomainError) as err:
        billing.charge(conn, c.id, d0, Decimal("99.00"), "bill-1")
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"
    with pytest.raises(DomainError) as err:
        billing.charge(conn, c.id, d0, Decimal("120.50"), "bill-other")
    assert err.value.code == "AD_CHARGE_CONFLICT"
    for day, error in ((d0 - timedelta(days=1), "AD_INVALID_PERIOD"),
                       (wallet.today() + timedelta(days=1), "AD_INVALID_PERIOD")):
        with pytest.raises(DomainError) as err:
            billing.charge(conn, c.id, day, Decimal("1.00"), f"k-{day}")
        assert err.value.code == error
    for bad in (Decimal("-1.00"), Decimal("0"), Decimal("1.001"), Decimal("1e30")):
        with pytest.raises(DomainError) as err:
            billing.charge(conn, c.id, d0 + timedelta(days=1), bad, f"k-{bad}")
        assert err.value.code == "AD_INVALID_AMOUNT"

    after = campaigns.get_campaign(conn, c.id)
    assert after.spent == Decimal("120.50") and after.held == Decimal("300.00")  # refilled
    # beyond the daily budget: capped
    d1 = d0 + timedelta(days=1)
    capped = billing.charge(conn, c.id, d1, Decimal("450.00"), "bill-2", now=_at(d1, 23))
    assert (capped.charged, capped.capped_by) == (Decimal("300.00"), "daily_budget")

    # paused for the whole of d2 (and d3): clicks counted then are never charged
    campaigns.act(conn, admin, c.id, "pause", now=_at(d1, 23, 30))
    d2 = d0 + timedelta(days=2)
    with pytest.raises(DomainError) as err:
        billing.charge(conn, c.id, d2, Decimal("10.00"), "bill-3", now=_at(d2, 23))
    assert err.value.code == "AD_CAMPAIGN_NOT_BILLABLE"
    # a draft never served
    draft = campaigns.create_campaign(conn, admin, campaigns.CampaignInput(
        shop_id=shop, name="Черновик", type="search", pricing="cpm", bid=Decimal("50.00"),
        daily_budget=Decimal("100.00"), total_budget=Decimal("100.00"), start_date=d2,
        end_date=d2 + timedelta(days=3), creative=campaigns.CreativeInput(
            product_ids=list(c.product_ids))), now=_at(d2, 8))
    with pytest.raises(DomainError) as err:
        billing.charge(conn, draft.id, d2, Decimal("10.00"), "bill-4", now=_at(d2, 23))
    assert err.value.code == "AD_CAMPAIGN_NOT_BILLABLE"

    # a credit for invalid traffic goes back to the free money
    before = wallet.balance(conn, merchant)
    credit = billing.credit_invalid_traffic(conn, capped.id, Decimal("40.00"), "cr-1",
                                            "бот-клики с одного IP", actor=admin)
    assert billing.credit_invalid_traffic(conn, capped.id, Decimal("40.00"), "cr-1",
                                          "повтор").replayed
    with pytest.raises(DomainError) as err:
        billing.credit_invalid_traffic(conn, capped.id, Decimal("260.01"), "cr-2", "слишком")
    assert err.value.code == "AD_CREDIT_EXCEEDS_CHARGE"
    assert wallet.balance(conn, merchant).available == before.available + credit.amount
    assert campaigns.get_campaign(conn, c.id).spent == Decimal("380.50")
    total = wallet.balance(conn, merchant).total
    assert total == Decimal("1000.00") - Decimal("120.50") - Decimal("300.00") + Decimal("40")
    assert ledger.unbalanced_entries(conn) == []


def test_a_charge_beyond_the_money_is_capped_and_the_campaign_paused(conn: Any) -> None:
    d0 = wallet.today() - timedelta(days=3)
    admin = _admin(conn)
    merchant, shop = _merchant(conn, _at(d0, 9))
    _topup(conn, admin, merchant, "450.00", _at(d0, 9))
    c = _running(conn, admin, merchant, shop, _at(d0, 10), daily="300.00", total="400.00")
    one = billing.charge(conn, c.id, d0, Decimal("300.00"), "a", now=_at(d0, 22))
    assert one.charged == Decimal("300.00")
    c = campaigns.get_campaign(conn, c.id)
    assert c.held == Decimal("100.00")  # only 100 of the total budget left
    d1 = d0 + timedelta(days=1)
    two = billing.charge(conn, c.id, d1, Decimal("250.00"), "b", now=_at(d1, 22))
    assert (two.charged, two.capped_by) == (Decimal("100.00"), "total_budget")
    c = campaigns.get_campaign(conn, c.id)
    assert c.status == "budget_spent" and c.held == 0 and c.spent == c.total_budget
    assert wallet.balance(conn, merchant).total == Decimal("50.00")

    # another campaign, and the money runs out
    _topup(conn, admin, merchant, "250.00", _at(d1, 9))  # 300 in the wallet
    c2 = _running(conn, admin, merchant, shop, _at(d1, 10), daily="200.00", total="2000.00")
    assert c2.held == Decimal("200.00")
    billing.charge(conn, c2.id, d1, Decimal("200.00"), "c", now=_at(d1, 23))
    c2 = campaigns.get_campaign(conn, c2.id)
    assert c2.held == Decimal("100.00") and c2.status == "active"  # refilled as far as it goes
    d2 = d0 + timedelta(days=2)
    short = billing.charge(conn, c2.id, d2, Decimal("180.00"), "d", now=_at(d2, 23))
    assert (short.charged, short.capped_by) == (Decimal("100.00"), "wallet")
    c2 = campaigns.get_campaign(conn, c2.id)
    assert (c2.status, c2.pause_reason) == ("paused", "insufficient_funds")
    assert wallet.balance(conn, merchant) == wallet.Balance(merchant, Decimal("0.00"),
                                                            Decimal("0.00"))


def test_the_database_refuses_an_overdraft_whatever_the_code_path(conn: Any) -> None:
    merchant = catalog.create_merchant(conn, f"M {secrets.token_hex(4)}").id
    ledger.post(conn, "ad_topup", [ledger.debit(ledger.PSP_CLEARING, Decimal("100.00")),
                                   ledger.credit(ledger.ad_wallet(merchant), Decimal("100.00"))])
    with pytest.raises(ledger.LedgerOverdrawnError) as err:
        ledger.post(conn, "ad_charge", [
            ledger.debit(ledger.ad_wallet(merchant), Decimal("100.01")),
            ledger.credit(ledger.ADS_REVENUE, Decimal("100.01"))])
    assert err.value.code == "LEDGER_OVERDRAWN"
    with pytest.raises(ledger.LedgerOverdrawnError):
        ledger.post(conn, "ad_hold", [ledger.debit(ledger.ad_hold(merchant), Decimal("1.00")),
                                      ledger.credit(ledger.ad_wallet(merchant), Decimal("1.00"))])
    assert wallet.balance(conn, merchant).available == Decimal("100.00")


def _committed(core_dsn: str, work: Callable[[Any], Any]) -> Any:
    with psycopg.connect(core_dsn) as c, c.transaction():
        return work(c)


def test_concurrent_postings_cannot_overdraw_even_without_the_wallet_lock(core_dsn: str
                                                                          ) -> None:
    def setup(c: Any) -> UUID:
        m = catalog.create_merchant(c, f"M {secrets.token_hex(4)}").id
        ledger.post(c, "ad_topup", [ledger.debit(ledger.PSP_CLEARING, Decimal("1000.00")),
                                    ledger.credit(ledger.ad_wallet(m), Decimal("1000.00"))])
        return m
    merchant = _committed(core_dsn, setup)
    posted = threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with psycopg.connect(core_dsn) as c, c.transaction():
            ledger.post(c, "ad_charge", [ledger.debit(ledger.ad_wallet(merchant), Decimal(600)),
                                         ledger.credit(ledger.ADS_REVENUE, Decimal(600))])
            posted.set()
            time.sleep(0.3)  # the second posting waits on the account's row meanwhile

    def second() -> None:
        posted.wait(5)
        try:
            with psycopg.connect(core_dsn) as c, c.transaction():
                ledger.post(c, "ad_charge", [
                    ledger.debit(ledger.ad_wallet(merchant), Decimal(600)),
                    ledger.credit(ledger.ADS_REVENUE, Decimal(600))])
            outcome["second"] = "posted"
        except DomainError as exc:
            outcome["second"] = exc.code

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert outcome["second"] == "LEDGER_OVERDRAWN"
    left = _committed(core_dsn, lambda c: wallet.balance(c, merchant))
    assert left.available == Decimal("400.00")


def test_parallel_charges_take_all_the_money_and_never_more(core_dsn: str) -> None:
    d0 = wallet.today() - timedelta(days=4)

    def setup(c: Any) -> tuple[UUID, list[UUID]]:
        admin = _admin(c)
        merchant, shop = _merchant(c, _at(d0, 8))
        _topup(c, admin, merchant, "1000.00", _at(d0, 8))
        ids = [_running(c, admin, merchant, shop, _at(d0, 9), daily="200.00").id
               for _ in range(4)]
        return merchant, ids
    merchant, ids = _committed(core_dsn, setup)
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def bill(campaign_id: UUID, day: date) -> None:
        with psycopg.connect(core_dsn) as c:
            barrier.wait(10)
            try:
                with c.transaction():
                    got = billing.charge(c, campaign_id, day, Decimal("200.00"),
                                         f"{campaign_id}:{day}", now=_at(day, 23))
                results.append(got.charged)
            except DomainError as exc:
                results.append(exc.code)

    threads = [threading.Thread(target=bill, args=(cid, d0 + timedelta(days=k)))
               for cid in ids for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8
    charged = [r for r in results if isinstance(r, Decimal)]
    assert sum(charged) == Decimal("1000.00"), results  # every tyiyn, not one more

    def check(c: Any) -> None:
        b = wallet.balance(c, merchant)
        assert b.available >= 0 and b.held >= 0 and b.total == 0
        rows = c.execute("select sum(charged) from ad_charges where merchant_id = %s",
                         (merchant,)).fetchone()
        assert rows[0] == Decimal("1000.00")
        held = c.execute("select sum(held) from ad_campaigns where merchant_id = %s",
                         (merchant,)).fetchone()
        assert held[0] == b.held
        assert ledger.unbalanced_entries(c) == []
    _committed(core_dsn, check)


def test_the_monthly_statement_adds_up(conn: Any) -> None:
    admin = _admin(conn)
    feb, mar, apr = date(2025, 2, 20), date(2025, 3, 1), date(2025, 4, 1)
    merchant, shop = _merchant(conn, _at(feb, 9))
    _topup(conn, admin, merchant, "1000.00", _at(feb, 9))
    # 00:30 in Bishkek on the 1st is still February in UTC: it belongs to March
    _topup(conn, admin, merchant, "2000.00", _at(mar, 0, 30))
    c = _running(conn, admin, merchant, shop, _at(date(2025, 3, 2), 10), daily="300.00")
    billing.charge(conn, c.id, date(2025, 3, 3), Decimal("250.00"), "s-1",
                   now=_at(date(2025, 3, 3), 23))
    first = billing.charges_of(conn, c.id)[0]
    billing.credit_invalid_traffic(conn, first.id, Decimal("50.00"), "s-cr", "боты",
                                   now=_at(date(2025, 3, 4), 10))
    billing.charge(conn, c.id, date(2025, 3, 31), Decimal("100.00"), "s-2",
                   now=_at(date(2025, 3, 31), 23, 30))
    _topup(conn, admin, merchant, "500.00", _at(apr, 0, 10))

    s = wallet.statement(conn, merchant, "2025-03")
    assert s.opening_balance == Decimal("1000.00")
    assert [line.amount for line in s.lines] == [Decimal("2000.00"), Decimal("-250.00"),
                                                 Decimal("50.00"), Decimal("-100.00")]
    assert [line.kind for line in s.lines] == ["ad_topup", "ad_charge", "ad_credit",
                                               "ad_charge"]
    assert (s.credits, s.debits) == (Decimal("2050.00"), Decimal("350.00"))
    assert s.closing_balance == s.opening_balance + s.credits - s.debits == Decimal("2700.00")
    assert s.lines[-1].balance_after == s.closing_balance
    assert s.held_at_close == Decimal("300.00")
    april = wallet.statement(conn, merchant, "2025-04")
    assert (april.opening_balance, april.closing_balance) == (Decimal("2700.00"),
                                                              Decimal("3200.00"))
    assert wallet.statement(conn, merchant, "2025-01").lines == []
    assert s.period_start == datetime(2025, 2, 28, 18, 0, tzinfo=UTC)


def test_statement_over_the_api(api: Any) -> None:
    seller, _, _ = pro_seller(api)
    fund(api, seller, "750.00")
    month = wallet.today().strftime("%Y-%m")
    r = api.get(f"/ads/wallet/statement?month={month}", headers=seller.headers)
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["opening_balance"], s["money_in"], s["closing_balance"]) == (
        "0.00", "750.00", "750.00")
    assert [x["kind"] for x in s["lines"]] == ["ad_topup"]
    assert code(api.get("/ads/wallet/statement", headers=seller.headers)) == "INVALID_REQUEST"
