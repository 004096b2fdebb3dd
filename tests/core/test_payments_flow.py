"""Payments through the services and the real webhook handler (signed bodies, the PSP
simulator): pay → order paid → instant payout → balanced ledger with exact Decimals;
idempotent redelivery (also 10 threads at once); bad signature; amount mismatch; late
payment of an expired order (auto refund); full refunds reversing the ledger."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from marketplace_core.accounts import service as accounts
from marketplace_core.accounts.principal import AuthenticatedUser
from marketplace_core.db import Connection
from marketplace_core.errors import DomainError, ErrorCode
from marketplace_core.orders import service as orders
from marketplace_core.orders.service import OrderRequest
from marketplace_core.payments import ledger, payouts, refunds, service, simulator, take_rate
from marketplace_core.payments.psp import PspRefund
from marketplace_core.payments.webhooks import receive_psp_webhook, sign
from schemas.topics import CORE_PAYMENTS, CORE_PAYOUTS, CORE_REFUNDS
from tests.core.test_orders_support import events, make_buyer, make_online_shop, make_variant

T0 = datetime(2031, 6, 1, 10, 0, tzinfo=UTC)
PRICE = Decimal("1999.99")


@dataclass(frozen=True)
class Sale:
    merchant_id: UUID
    shop_id: UUID
    order_id: UUID
    buyer: AuthenticatedUser


def make_sale(conn: Connection, *, price: Decimal = PRICE, now: datetime = T0) -> Sale:
    """A delivery order of one unit at `price`, pending payment, placed at `now`."""
    merchant_id, shop_id, _ = make_online_shop(conn, now)
    variant = make_variant(conn, shop_id, price=price, stock=5)
    buyer_id = make_buyer(conn)
    order = orders.place_order(
        conn, buyer_id, OrderRequest.of(shop_id, [(variant, 1)], "delivery",
                                        delivery_address="Bishkek, Chui 1"), now=now).order
    return Sale(merchant_id, shop_id, order.id, AuthenticatedUser(buyer_id, "buyer"))


def make_admin(conn: Connection) -> AuthenticatedUser:
    reg = accounts.register_user(
        conn, email=f"admin-{secrets.token_hex(5)}@test.example.kg",
        password="correct horse battery staple", full_name="Admin", role="admin",
        password_rounds=4)
    return AuthenticatedUser(reg.user.id, "admin")


def pay_on_psp(conn: Connection, payment: service.Payment, outcome: simulator.Outcome = "paid"
               ) -> bytes:
    """The buyer completes the payment on the simulator; returns the webhook body."""
    sim = simulator.buyer_completes(conn, payment.psp_payment_id, outcome, now=T0)
    return simulator.webhook_body(sim)


def deliver(conn: Connection, body: bytes, *, now: datetime = T0) -> str:
    return receive_psp_webhook(conn, body, sign(body), now=now).outcome


def entry_totals(conn: Connection, payment_id: UUID) -> dict[str, Decimal]:
    """Debit-positive totals per account of every journal entry of one payment."""
    rows = conn.execute(
        "select l.account_code, sum(l.amount) from journal_lines l"
        " join journal_entries e on e.id = l.entry_id where e.payment_id = %s"
        " group by l.account_code", (payment_id,)).fetchall()
    return {code.split(":")[0]: total for code, total in rows if total != 0}


def assert_balanced(conn: Connection, payment_id: UUID) -> None:
    entries = conn.execute(
        "select e.id, sum(l.amount) from journal_entries e join journal_lines l"
        " on l.entry_id = e.id where e.payment_id = %s group by e.id", (payment_id,)).fetchall()
    assert entries and all(total == 0 for _, total in entries)
    assert ledger.unbalanced_entries(conn) == []


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


# --- the happy path ----------------------------------------------------------------------


def test_start_payment_is_idempotent_and_only_for_the_buyer(conn: Connection) -> None:
    sale = make_sale(conn)
    first = service.start_payment(conn, sale.order_id, sale.buyer, now=T0)
    again = service.start_payment(conn, sale.order_id, sale.buyer, now=T0)
    assert first.created and not again.created
    assert first.payment.id == again.payment.id
    p = first.payment
    assert (p.status, p.amount, p.currency, p.provider) == ("pending", PRICE, "KGS", "simulator")
    assert p.confirmation_url.endswith(f"/psp-sim/payments/{p.psp_payment_id}")
    created = events(conn, CORE_PAYMENTS, p.id)
    assert [e["event_type"] for e in created] == ["payment.created"]
    assert created[0]["amount"] == PRICE and created[0]["order_id"] == sale.order_id

    stranger = AuthenticatedUser(make_buyer(conn), "buyer")
    with pytest.raises(DomainError) as err:
        service.start_payment(conn, sale.order_id, stranger)
    assert _code(err) == ErrorCode.FORBIDDEN


@pytest.mark.parametrize(
    ("rate", "commission", "payout"),
    [(Decimal("0"), Decimal("0.00"), Decimal("1959.99")),
     (Decimal("0.05"), Decimal("100.00"), Decimal("1859.99"))],
)
def test_paid_webhook_pays_order_and_seller_with_balanced_ledger(
    conn: Connection, rate: Decimal, commission: Decimal, payout: Decimal,
) -> None:
    if rate:
        take_rate.set_rate(conn, rate, make_admin(conn))
    sale = make_sale(conn)
    payment = service.start_payment(conn, sale.order_id, sale.buyer, now=T0).payment

    assert deliver(conn, pay_on_psp(conn, payment)) == "processed"

    paid = service.get_payment(conn, payment.id)
    fee = Decimal("40.00")  # 2 % of 1999.99 = 39.9998, half up to the tyiyn
    assert (paid.status, paid.acquiring_fee, paid.take_rate_amount) == (
        "succeeded", fee, commission)
    assert paid.take_rate == rate
    order = orders.get_order(conn, sale.order_id)
    assert (order.status, order.payment_id) == ("paid", payment.id)

    sent = payouts.payout_for_payment(conn, payment.id)
    assert sent is not None
    assert (sent.status, sent.gross_amount, sent.take_rate_amount, sent.acquiring_fee,
            sent.amount) == ("sent", PRICE, commission, fee, payout)
    assert sent.destination == f"merchant:{sale.merchant_id}"  # no payout account onboarded

    assert_balanced(conn, payment.id)
    totals = entry_totals(conn, payment.id)
    assert totals == {k: v for k, v in {
        "psp_clearing": PRICE - fee,               # the PSP owes us the amount net of its fee
        "platform_revenue": -commission,            # credit: the platform's earning
        "payouts_in_transit": -payout,              # credit: on its way to the seller
    }.items() if v != 0}
    # the seller was paid everything it was owed; the fee was recharged to it
    assert ledger.balance(conn, ledger.seller_payable(sale.merchant_id)) == Decimal("0.00")
    assert "acquiring_fees" not in totals

    pay_events = events(conn, CORE_PAYMENTS, payment.id)
    assert [e["event_type"] for e in pay_events] == ["payment.created", "payment.succeeded"]
    assert (pay_events[1]["acquiring_fee"], pay_events[1]["take_rate_amount"]) == (
        fee, commission)
    out_events = events(conn, CORE_PAYOUTS, sent.id)
    assert [e["event_type"] for e in out_events] == ["payout.sent"]
    assert out_events[0]["amount"] == payout
    assert out_events[0]["merchant_id"] == sale.merchant_id


def test_the_same_webhook_twice_changes_things_once(conn: Connection) -> None:
    sale = make_sale(conn)
    payment = service.start_payment(conn, sale.order_id, sale.buyer, now=T0).payment
    body = pay_on_psp(conn, payment)
    assert deliver(conn, body) == "processed"
    assert deliver(conn, body) == "duplicate"
    count = conn.execute("select count(*) from payouts where payment_id = %s",
                         (payment.id,)).fetchone()
    assert count == (1,)
    assert len(events(conn, CORE_PAYMENTS, payment.id)) == 2


def test_failed_payment_leaves_the_order_payable(conn: Connection) -> None:
    sale = make_sale(conn)
    payment = service.start_payment(conn, sale.order_id, sale.buyer, now=T0).payment
    assert deliver(conn, pay_on_psp(conn, payment, "failed")) == "processed"
    assert service.get_payment(conn, payment.id).status == "failed"
    assert orders.get_order(conn, sale.order_id).status == "pending_payment"
    retry = service.start_payment(conn, sale.order_id, sale.buyer, now=T0)
    assert retry.created and retry.payment.id != payment.id
    assert [e["event_type"] for e in events(conn, CORE_PAYMENTS, payment.id)] == [
        "payment.created", "payment.failed"]


# --- rejected webhooks -------------------------------------------------------------------


def _signed(event: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    return body, sign(body)


def test_bad_signature_is_refused_and_nothing_is_stored(conn: Connection) -> None:
    sale = make_sale(conn)
    payment = service.start_payment(conn, sale.order_id, sale.buyer, now=T0).payment
    body = pay_on_psp(conn, payment)
    for signature in (None, "", "deadbeef", sign(body, "another-secret"), sign(body + b" ")):
        with pytest.raises(DomainError) as err:
            receive_psp_webhook(conn, body, signature)
        assert _code(err) == ErrorCode.INVALID_SIGNATURE
    assert service.get_payment(conn, payment.id).status == "pending"
    assert receive_psp_webhook(conn, body, "sha256=" + sign(body)).outcome == "processed"


def test_amount_mismatch_is_recorded_and_changes_nothing(conn: Connection) -> None:
    sale = make_sale(conn)
    payment = service.start_payment(conn, sale.order_id, sale.buyer, now=T0).payment
    body, signature = _signed({"event_id": f"evt_{secrets.token_hex(6)}",
                               "type": "payment.succeeded",
                               "psp_payment_id": payment.psp_payment_id, "amount": "1999.98"})
    for _ in range(2):  # the redelivery gets the same answer
        with pytest.raises(DomainError) as err:
            receive_psp_webhook(conn, body, signature)
        assert _code(err) == ErrorCode.AMOUNT_MISMATCH
    stored = conn.execute("select outcome, amount from psp_webhook_events where event_id = %s",
                          (json.loads(body)["event_id"],)).fetchone()
    assert stored == ("amount_mismatch", Decimal("1999.98"))
    assert service.get_payment(conn, payment.id).status == "pending"
    assert orders.get_order(conn, sale.order_id).status == "pending_payment"


def test_unknown_payment_and_malformed_events(conn: Connection) -> None:
    body, signature = _signed({"event_id": "evt_unknown", "type": "payment.succeeded",
                               "psp_payment_id": "sim_pay_nope", "amount": "10.00"})
    with pytest.raises(DomainError) as err:
        receive_psp_webhook(conn, body, signature)
    assert _code(err) == ErrorCode.PAYMENT_NOT_FOUND
    assert conn.execute("select 1 from psp_webhook_events where event_id = 'evt_unknown'"
                        ).fetchone() is None  # not stored: the PSP's retry will be processed

    malformed: list[Any] = [
        {"event_id": "e1", "type": "payment.exploded", "psp_payment_id": "x", "amount": "1"},
        {"event_id": "e2", "type": "payment.succeeded", "psp_payment_id": "x", "amount": "1.001"},
        {"event_id": "e3", "type": "payment.succeeded", "psp_payment_id": "x", "amount": "-5"},
        {"event_id": "e4", "type": "payment.succeeded", "psp_payment_id": "x"},
        {"event_id": "", "type": "payment.succeeded", "psp_payment_id": "x", "amount": "1"},
        {"event_id": "e5", "type": "payment.succeeded", "psp_payment_id": "x", "amount": "1",
         "fee": "2"},
        [1, 2, 3],
    ]
    for event in malformed:
        body, signature = _signed(event)
        with pytest.raises(DomainError) as err:
            receive_psp_webhook(conn, body, signature)
        assert _code(err) == ErrorCode.INVALID_WEBHOOK, event
    with pytest.raises(DomainError) as err:
        receive_psp_webhook(conn, b"{not json", sign(b"{not json"))
    assert _code(err) == ErrorCode.INVALID_WEBHOOK


# --- late payment of an expired order ----------------------------------------------------


def test_payment_for_an_expired_order_is_refunded_automatically(conn: Connection) -> None:
    sale = make_sale(conn)
    payment = service.start_payment(conn, sale.order_id, sale.buyer, now=T0).payment
    late = T0 + timedelta(minutes=31)
    orders.expire_reservations(conn, now=late)
    assert orders.get_order(conn, sale.order_id).status == "expired"

    with pytest.raises(DomainError) as again:  # no new payment for an expired order
        service.start_payment(conn, sale.order_id, sale.buyer, now=late)
    assert _code(again) == ErrorCode.ORDER_NOT_PAYABLE

    assert deliver(conn, pay_on_psp(conn, payment), now=late) == "processed"

    assert service.get_payment(conn, payment.id).status == "succeeded"
    assert orders.get_order(conn, sale.order_id).status == "expired"
    assert payouts.payout_for_payment(conn, payment.id) is None
    [refund] = refunds.list_for_order(conn, sale.order_id)
    assert (refund.status, refund.reason, refund.amount, refund.requested_by) == (
        "succeeded", "order_not_payable", PRICE, None)
    assert simulator.get_sim_payment(conn, payment.psp_payment_id).refund_id == (
        refund.psp_refund_id)
    assert_balanced(conn, payment.id)
    fee = Decimal("40.00")
    # the buyer got everything back; the PSP kept its fee, which the platform bears
    assert entry_totals(conn, payment.id) == {"psp_clearing": -fee, "acquiring_fees": fee}
    assert [e["event_type"] for e in events(conn, CORE_REFUNDS, refund.id)] == [
        "refund.requested", "refund.succeeded"]


# --- refunds -----------------------------------------------------------------------------


def test_full_refund_reverses_the_ledger_and_refunds_the_order(conn: Connection) -> None:
    admin = make_admin(conn)
    take_rate.set_rate(conn, Decimal("0.05"), admin)
    sale = make_sale(conn)
    payment = service.start_payment(conn, sale.order_id, sale.buyer, now=T0).payment
    deliver(conn, pay_on_psp(conn, payment))

    with pytest.raises(DomainError) as partial:
        refunds.request_refund(conn, sale.order_id, admin, amount=Decimal("1000.00"))
    assert _code(partial) == ErrorCode.PARTIAL_REFUND_NOT_ALLOWED

    refund = refunds.request_refund(conn, sale.order_id, admin, amount=PRICE,
                                    now=T0 + timedelta(hours=1))
    assert (refund.status, refund.reason, refund.amount, refund.requested_by) == (
        "succeeded", "requested", PRICE, admin.id)
    assert orders.get_order(conn, sale.order_id).status == "refunded"

    # The seller had been paid 1859.99 and bears the 40.00 fee; the platform gives its
    # 100.00 back: the seller owes 1899.99 (a receivable from its next sales).
    assert ledger.balance(conn, ledger.seller_payable(sale.merchant_id)) == Decimal("-1899.99")
    assert_balanced(conn, payment.id)
    totals = entry_totals(conn, payment.id)
    assert totals == {"psp_clearing": Decimal("-40.00"), "payouts_in_transit": Decimal("-1859.99"),
                      "seller_payable": Decimal("1899.99")}
    refund_events = events(conn, CORE_REFUNDS, refund.id)
    assert [e["event_type"] for e in refund_events] == ["refund.requested", "refund.succeeded"]
    assert refund_events[1]["take_rate_amount"] == Decimal("100.00")
    audit_row = conn.execute("select action, actor_id from audit_log where entity_id = %s",
                             (str(refund.id),)).fetchone()
    assert audit_row == ("refund.request", admin.id)

    with pytest.raises(DomainError) as twice:
        refunds.request_refund(conn, sale.order_id, admin)
    assert _code(twice) == ErrorCode.ALREADY_REFUNDED

    # the PSP's refund.succeeded webhook after a synchronous refund changes nothing
    body, signature = _signed({"event_id": f"evt_{secrets.token_hex(6)}",
                               "type": "refund.succeeded",
                               "psp_payment_id": payment.psp_payment_id, "amount": "1999.99"})
    assert receive_psp_webhook(conn, body, signature).outcome == "ignored"


class AsyncRefundPsp(simulator.SimulatedPsp):
    """The simulator, but refunding like most real PSPs: accepted now, confirmed later."""

    def refund(self, psp_payment_id: str, amount: Decimal) -> PspRefund:
        super().refund(psp_payment_id, amount)
        return PspRefund(f"async_{secrets.token_hex(4)}", "pending")


def test_refund_confirmed_by_the_psp_webhook(conn: Connection) -> None:
    sale = make_sale(conn)
    payment = service.start_payment(conn, sale.order_id, sale.buyer, now=T0).payment
    deliver(conn, pay_on_psp(conn, payment))
    admin = make_admin(conn)
    refund = refunds.request_refund(conn, sale.order_id, admin, provider=AsyncRefundPsp(conn))
    assert refund.status == "requested"
    assert orders.get_order(conn, sale.order_id).status == "paid"

    body, signature = _signed({"event_id": f"evt_{secrets.token_hex(6)}",
                               "type": "refund.succeeded",
                               "psp_payment_id": payment.psp_payment_id, "amount": "1999.99"})
    assert receive_psp_webhook(conn, body, signature).outcome == "processed"
    assert receive_psp_webhook(conn, body, signature).outcome == "duplicate"
    [done] = refunds.list_for_order(conn, sale.order_id)
    assert done.status == "succeeded"
    assert orders.get_order(conn, sale.order_id).status == "refunded"
    assert ledger.balance(conn, ledger.seller_payable(sale.merchant_id)) == Decimal("-1999.99")
    assert_balanced(conn, payment.id)


def test_refund_of_an_unpaid_order_is_refused(conn: Connection) -> None:
    sale = make_sale(conn)
    with pytest.raises(DomainError) as err:
        refunds.request_refund(conn, sale.order_id, make_admin(conn))
    assert _code(err) == ErrorCode.ORDER_NOT_PAID


# --- the ledger itself -------------------------------------------------------------------


def test_unbalanced_postings_are_refused(conn: Connection) -> None:
    with pytest.raises(ledger.LedgerUnbalancedError) as err:
        ledger.post(conn, "broken", [ledger.debit(ledger.PSP_CLEARING, Decimal("10.00")),
                                     ledger.credit(ledger.PAYOUTS_IN_TRANSIT, Decimal("9.99"))])
    assert err.value.code == ErrorCode.LEDGER_UNBALANCED
    # Below the service, the database refuses it too (checked at commit; made immediate).
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        entry = conn.execute("insert into journal_entries (kind) values ('raw') returning id"
                             ).fetchone()
        assert entry is not None
        conn.execute("insert into ledger_accounts (code, kind) values ('psp_clearing', 'asset')"
                     " on conflict do nothing")
        conn.execute("insert into journal_lines (entry_id, account_code, amount)"
                     " values (%s, 'psp_clearing', 5.00)", (entry[0],))
        conn.execute("set constraints journal_lines_balanced immediate")
    # and it is append-only
    entry_id = ledger.post(conn, "ok", [ledger.debit(ledger.PSP_CLEARING, Decimal("1.00")),
                                        ledger.credit(ledger.PAYOUTS_IN_TRANSIT,
                                                      Decimal("1.00"))])
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute("update journal_lines set amount = 2 where entry_id = %s", (entry_id,))


def test_a_committed_unbalanced_journal_fails_at_commit(core_dsn: str) -> None:
    with psycopg.connect(core_dsn) as c:
        entry = c.execute("insert into journal_entries (kind) values ('raw') returning id"
                          ).fetchone()
        assert entry is not None
        c.execute("insert into ledger_accounts (code, kind) values ('psp_clearing', 'asset')"
                  " on conflict do nothing")
        c.execute("insert into journal_lines (entry_id, account_code, amount)"
                  " values (%s, 'psp_clearing', 5.00)", (entry[0],))
        with pytest.raises(psycopg.errors.CheckViolation):
            c.commit()


# --- concurrency (committed data, real transactions) -------------------------------------


@pytest.fixture
def committed_sale(core_dsn: str) -> Iterator[tuple[Sale, service.Payment, bytes]]:
    with psycopg.connect(core_dsn) as c:
        now = datetime.now(UTC)
        sale = make_sale(c, now=now)
        payment = service.start_payment(c, sale.order_id, sale.buyer, now=now).payment
        sim = simulator.buyer_completes(c, payment.psp_payment_id, "paid")
        c.commit()
    yield sale, payment, simulator.webhook_body(sim)


def test_ten_threads_delivering_the_same_event_make_one_payout(
    core_dsn: str, committed_sale: tuple[Sale, service.Payment, bytes],
) -> None:
    sale, payment, body = committed_sale
    barrier = threading.Barrier(10)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver_once() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(receive_psp_webhook(core_dsn, body, sign(body)).outcome)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=deliver_once) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(outcomes) == ["duplicate"] * 9 + ["processed"]
    with psycopg.connect(core_dsn) as c:
        assert c.execute("select count(*) from payouts where payment_id = %s",
                         (payment.id,)).fetchone() == (1,)
        assert orders.get_order(c, sale.order_id).status == "paid"
        payout = payouts.payout_for_payment(c, payment.id)
        assert payout is not None and len(events(c, CORE_PAYOUTS, payout.id)) == 1
        assert ledger.unbalanced_entries(c) == []
