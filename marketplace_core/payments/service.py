"""Payments of orders: starting one with the PSP, and what the PSP's outcome does.

- `start_payment`: the buyer who placed a `pending_payment` order gets a payment (status
  pending, amount = the order total, KGS) and the PSP's confirmation URL. Asking again
  while it is pending returns the same payment; after a failure a new one is created.
- `payment_succeeded` (from the webhook, in the webhook's transaction): the payment
  becomes succeeded, the order paid (`orders.mark_paid`) and the seller is paid out at
  once (`payouts.send_instant_payout`), all in one transaction. If the order can no
  longer be paid (it expired or was cancelled while the buyer was paying, or another
  payment already paid it), the payment is still recorded as succeeded (the buyer's money
  did move) and a full refund is started at once (reason `order_not_payable`); the
  platform then bears the acquiring fee, since no sale happened.
- `payment_failed`: a pending payment becomes failed; the order stays payable.

Ledger entries of a captured payment (A = amount, F = acquiring fee, T = take rate):
`payment_captured`: Dr psp_clearing A−F, Dr acquiring_fees F, Cr seller_payable A;
`marketplace_fees`: Dr seller_payable T+F, Cr platform_revenue:take_rate T,
Cr acquiring_fees F (the seller bears the fee). The payout entry is in `payouts`.

The payment record and its reads are `records` (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from psycopg.rows import class_row

from marketplace_core import audit
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    ForbiddenError,
)
from marketplace_core.orders import service as orders
from marketplace_core.payments import ledger, payouts, refunds, take_rate
from marketplace_core.payments.providers import provider_for
from marketplace_core.payments.psp import PaymentProvider
from marketplace_core.payments.records import PAYMENT_COLS as _COLS
from marketplace_core.payments.records import (
    Payment,
    emit_payment,
    find_by_psp_id,
    get_payment,
    list_for_order,
    succeeded_payment_of_order,
)
from marketplace_core.payments.records import one as _one

CURRENCY = "KGS"
PAYABLE_STATUS = "pending_payment"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


@dataclass(frozen=True)
class StartedPayment:
    payment: Payment
    created: bool  # False: the pending payment that already existed


def start_payment(
    conn: Connection,
    order_id: UUID,
    buyer: audit.Actor,
    *,
    provider: PaymentProvider | None = None,
    now: datetime | None = None,
) -> StartedPayment:
    """A pending payment for the buyer's order (the existing one if there is one).

    Raises ORDER_NOT_FOUND, FORBIDDEN (not the order's buyer), ORDER_NOT_PAYABLE (the order
    is not pending_payment), PAYMENT_NOT_ALLOWED (nothing to pay).
    """
    at = _now(now)
    with conn.transaction():
        order = orders.get_order(conn, order_id)
        if order.buyer_id != buyer.id:
            raise ForbiddenError(ErrorCode.FORBIDDEN, "only the order's buyer can pay for it")
        # Serialise concurrent "pay" clicks on one order without touching the orders table.
        conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                     (f"payment:{order_id}",))
        # Status first: an expired order's old pending payment is not offered again.
        if order.status != PAYABLE_STATUS:
            raise ConflictError(ErrorCode.ORDER_NOT_PAYABLE,
                                f"the order is {order.status}, not awaiting payment")
        existing = _one(conn, "order_id = %s and status = 'pending'", (order_id,))
        if existing is not None:
            return StartedPayment(existing, created=False)
        if order.total <= 0:
            raise ConflictError(ErrorCode.PAYMENT_NOT_ALLOWED, "the order has nothing to pay")
        psp = provider or provider_for(conn)
        payment_id = uuid4()
        psp_payment = psp.create_payment(payment_id, order.total, CURRENCY,
                                         f"Bazaar order {order_id}")
        with conn.cursor(row_factory=class_row(Payment)) as cur:
            payment = cur.execute(
                "insert into payments (id, order_id, buyer_id, merchant_id, shop_id, amount,"
                " currency, provider, psp_payment_id, confirmation_url, created_at, updated_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                f" returning {_COLS}".encode(),
                (payment_id, order_id, order.buyer_id, order.merchant_id, order.shop_id,
                 order.total, CURRENCY, psp.name, psp_payment.psp_payment_id,
                 psp_payment.confirmation_url, at, at),
            ).fetchone()
        assert payment is not None
        emit_payment(conn, payment, "payment.created")
        return StartedPayment(payment, created=True)


def _set(conn: Connection, payment_id: UUID, **values: Any) -> Payment:
    sets = ", ".join(f"{column} = %({column})s" for column in values)
    conn.execute(f"update payments set {sets} where id = %(id)s".encode(),
                 {**values, "id": payment_id})
    return get_payment(conn, payment_id)


def payment_succeeded(
    conn: Connection,
    payment: Payment,
    fee: Decimal,
    provider: PaymentProvider,
    *,
    now: datetime | None = None,
) -> str:
    """Apply the PSP's success to a payment locked by the caller; returns what happened:
    'paid' (order paid, payout sent), 'refunded' (order not payable: auto refund started)
    or 'ignored' (already succeeded)."""
    if payment.status == "succeeded":
        return "ignored"
    at = _now(now)
    with conn.transaction():
        # A 'failed' payment reported as succeeded later: the PSP is the authority on money.
        try:
            with conn.transaction():
                orders.mark_paid(conn, payment.order_id, payment_id=payment.id, now=at)
            order_paid = True
        except ConflictError:
            order_paid = False
        if not order_paid:
            captured = _set(conn, payment.id, status="succeeded", acquiring_fee=fee,
                            succeeded_at=at, updated_at=at)
            emit_payment(conn, captured, "payment.succeeded")
            ledger.post(conn, "payment_unmatched", [
                ledger.debit(ledger.PSP_CLEARING, captured.amount - fee),
                ledger.debit(ledger.ACQUIRING_FEES, fee),
                ledger.credit(ledger.BUYER_REFUNDS_PAYABLE, captured.amount),
            ], payment_id=captured.id, memo="paid after the order stopped being payable")
            refunds.start_refund(conn, captured, reason="order_not_payable",
                                 requested_by=None, provider=provider, now=at)
            return "refunded"

        rate = take_rate.current(conn).rate
        # The platform never takes more than what is left after the PSP's fee.
        commission = min(take_rate.commission(payment.amount, rate), payment.amount - fee)
        captured = _set(conn, payment.id, status="succeeded", acquiring_fee=fee,
                        take_rate=rate, take_rate_amount=commission, succeeded_at=at,
                        updated_at=at)
        emit_payment(conn, captured, "payment.succeeded")
        payable = ledger.seller_payable(captured.merchant_id)
        ledger.post(conn, "payment_captured", [
            ledger.debit(ledger.PSP_CLEARING, captured.amount - fee),
            ledger.debit(ledger.ACQUIRING_FEES, fee),
            ledger.credit(payable, captured.amount),
        ], payment_id=captured.id)
        ledger.post(conn, "marketplace_fees", [
            ledger.debit(payable, commission + fee),
            ledger.credit(ledger.TAKE_RATE_REVENUE, commission),
            ledger.credit(ledger.ACQUIRING_FEES, fee),
        ], payment_id=captured.id, memo=f"take rate {rate}, acquiring fee borne by the seller")
        payouts.send_instant_payout(conn, captured, now=at)
        return "paid"


def payment_failed(conn: Connection, payment: Payment, *, now: datetime | None = None) -> str:
    """Apply the PSP's failure to a payment locked by the caller: 'failed' or 'ignored'
    (already failed, or succeeded: a success is final)."""
    if payment.status != "pending":
        return "ignored"
    at = _now(now)
    failed = _set(conn, payment.id, status="failed", failed_at=at, updated_at=at)
    emit_payment(conn, failed, "payment.failed")
    return "failed"


__all__ = [
    "CURRENCY", "PAYABLE_STATUS", "Payment", "StartedPayment", "emit_payment",
    "find_by_psp_id", "get_payment", "list_for_order", "payment_failed", "payment_succeeded",
    "start_payment", "succeeded_payment_of_order",
]
