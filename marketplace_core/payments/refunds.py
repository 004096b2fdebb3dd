"""Full refunds (spec §3.5: no partial refunds).

`request_refund` (the seller owning the shop, or an admin; checked by the caller) refunds
the whole paid amount through the PSP. Asking for any other amount is
PARTIAL_REFUND_NOT_ALLOWED; a second refund is ALREADY_REFUNDED. When the PSP confirms
(synchronously for the simulator, else its `refund.succeeded` webhook) the refund is
completed in that transaction: order → refunded (`orders.mark_refunded`), ledger reversed,
`refund.succeeded` emitted.

Ledger, when the seller had been paid out instantly (A = amount, T = take rate):
`refund_paid`: Dr seller_payable A, Cr psp_clearing A; `take_rate_returned`:
Dr platform_revenue:take_rate T, Cr seller_payable T. The platform gives its commission
back; the PSP keeps its acquiring fee, which stays with the seller. Because the seller
already received the payout, its payable goes negative by A − T (= payout + fee): a
receivable the platform recovers from the seller's next sales, as marketplaces with
instant payouts do.

For a payment that arrived after its order stopped being payable (no payout was made):
`refund_paid`: Dr buyer_refunds_payable A, Cr psp_clearing A (the order is not touched).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core import audit
from marketplace_core.db import Connection
from marketplace_core.errors import ConflictError, ErrorCode, ValidationError
from marketplace_core.orders import service as orders
from marketplace_core.outbox import emit
from marketplace_core.payments import ledger, metrics, payouts
from marketplace_core.payments.providers import provider_for
from marketplace_core.payments.psp import PaymentProvider
from marketplace_core.payments.records import Payment, succeeded_payment_of_order
from schemas.topics import CORE_REFUNDS


@dataclass(frozen=True)
class Refund:
    id: UUID
    payment_id: UUID
    order_id: UUID
    merchant_id: UUID
    shop_id: UUID
    amount: Decimal
    currency: str
    status: str  # requested | succeeded | failed
    reason: str  # requested | order_not_payable
    psp_refund_id: str | None
    requested_by: UUID | None
    created_at: datetime
    succeeded_at: datetime | None


_COLS = (
    "id, payment_id, order_id, merchant_id, shop_id, amount, currency, status, reason,"
    " psp_refund_id, requested_by, created_at, succeeded_at"
)


def _fetch(conn: Connection, where: str, params: tuple[Any, ...], *, lock: bool = False
           ) -> Refund | None:
    sql = f"select {_COLS} from refunds where {where}" + (" for update" if lock else "")
    with conn.cursor(row_factory=class_row(Refund)) as cur:
        return cur.execute(sql.encode(), params).fetchone()


def live_refund_of_payment(conn: Connection, payment_id: UUID, *, lock: bool = False
                           ) -> Refund | None:
    """The payment's refund that is requested or succeeded (at most one exists)."""
    return _fetch(conn, "payment_id = %s and status <> 'failed'", (payment_id,), lock=lock)


def list_for_order(conn: Connection, order_id: UUID) -> list[Refund]:
    with conn.cursor(row_factory=class_row(Refund)) as cur:
        return cur.execute(
            f"select {_COLS} from refunds where order_id = %s order by created_at".encode(),
            (order_id,),
        ).fetchall()


def _emit(conn: Connection, refund: Refund, payment: Payment, event_type: str,
          take_back: Decimal) -> None:
    emit(
        conn, CORE_REFUNDS, entity_type="refund", entity_id=refund.id, event_type=event_type,
        record={
            "refund_id": refund.id, "payment_id": refund.payment_id,
            "order_id": refund.order_id, "merchant_id": refund.merchant_id,
            "shop_id": refund.shop_id, "status": refund.status, "amount": refund.amount,
            "currency": refund.currency, "take_rate_amount": take_back,
            "acquiring_fee": payment.acquiring_fee, "reason": refund.reason,
            "psp_refund_id": refund.psp_refund_id, "requested_by": refund.requested_by,
        },
    )


def _take_back(conn: Connection, payment: Payment) -> Decimal:
    payout = payouts.payout_for_payment(conn, payment.id)
    return payout.take_rate_amount if payout is not None else Decimal("0.00")


def start_refund(
    conn: Connection,
    payment: Payment,
    *,
    reason: str,
    requested_by: UUID | None,
    provider: PaymentProvider,
    now: datetime | None = None,
) -> Refund:
    """Create the refund of a succeeded payment (locked by the caller) and ask the PSP;
    completes it at once if the PSP refunds synchronously. Raises ALREADY_REFUNDED."""
    at = now or datetime.now(UTC)
    with conn.transaction():
        if live_refund_of_payment(conn, payment.id) is not None:
            raise ConflictError(ErrorCode.ALREADY_REFUNDED, "the payment is already refunded")
        with conn.cursor(row_factory=class_row(Refund)) as cur:
            refund = cur.execute(
                "insert into refunds (payment_id, order_id, merchant_id, shop_id, amount,"
                " reason, requested_by, created_at) values (%s, %s, %s, %s, %s, %s, %s, %s)"
                f" returning {_COLS}".encode(),
                (payment.id, payment.order_id, payment.merchant_id, payment.shop_id,
                 payment.amount, reason, requested_by, at),
            ).fetchone()
        assert refund is not None
        _emit(conn, refund, payment, "refund.requested", _take_back(conn, payment))
        answer = provider.refund(payment.psp_payment_id, payment.amount)
        if answer.status == "failed":
            metrics.PSP_REFUSALS.labels("refund").inc()
            raise ConflictError(ErrorCode.PSP_ERROR, "the payment provider refused the refund")
        refund = _set(conn, refund.id, psp_refund_id=answer.psp_refund_id)
        if answer.status == "succeeded":
            refund = complete_refund(conn, refund, payment, now=at)
        return refund


def _set(conn: Connection, refund_id: UUID, **values: Any) -> Refund:
    sets = ", ".join(f"{column} = %({column})s" for column in values)
    conn.execute(f"update refunds set {sets} where id = %(id)s".encode(),
                 {**values, "id": refund_id})
    refund = _fetch(conn, "id = %s", (refund_id,))
    assert refund is not None
    return refund


def complete_refund(conn: Connection, refund: Refund, payment: Payment, *,
                    now: datetime | None = None) -> Refund:
    """The PSP returned the money: order refunded, ledger reversed, event emitted.
    A refund that already succeeded is returned unchanged."""
    if refund.status == "succeeded":
        return refund
    at = now or datetime.now(UTC)
    with conn.transaction():
        payout = payouts.payout_for_payment(conn, payment.id)
        if payout is None:
            ledger.post(conn, "refund_paid", [
                ledger.debit(ledger.BUYER_REFUNDS_PAYABLE, refund.amount),
                ledger.credit(ledger.PSP_CLEARING, refund.amount),
            ], payment_id=payment.id, refund_id=refund.id)
        else:
            orders.mark_refunded(conn, refund.order_id, now=at)
            payable = ledger.seller_payable(refund.merchant_id)
            ledger.post(conn, "refund_paid", [
                ledger.debit(payable, refund.amount),
                ledger.credit(ledger.PSP_CLEARING, refund.amount),
            ], payment_id=payment.id, refund_id=refund.id)
            ledger.post(conn, "take_rate_returned", [
                ledger.debit(ledger.TAKE_RATE_REVENUE, payout.take_rate_amount),
                ledger.credit(payable, payout.take_rate_amount),
            ], payment_id=payment.id, refund_id=refund.id)
        done = _set(conn, refund.id, status="succeeded", succeeded_at=at)
        _emit(conn, done, payment, "refund.succeeded",
              payout.take_rate_amount if payout is not None else Decimal("0.00"))
        return done


def request_refund(
    conn: Connection,
    order_id: UUID,
    actor: audit.Actor,
    *,
    amount: Decimal | None = None,
    provider: PaymentProvider | None = None,
    now: datetime | None = None,
) -> Refund:
    """Refund an order in full (the caller checked that `actor` manages its shop).

    Raises ORDER_NOT_FOUND, ORDER_NOT_PAID, PARTIAL_REFUND_NOT_ALLOWED (an amount other
    than the paid one), ALREADY_REFUNDED, PSP_ERROR, and the orders module's conflict if
    the order cannot be refunded in its state.
    """
    with conn.transaction():
        order = orders.get_order(conn, order_id)
        payment = succeeded_payment_of_order(conn, order.id, lock=True)
        if payment is None:
            raise ConflictError(ErrorCode.ORDER_NOT_PAID, "the order has no successful payment")
        if amount is not None and amount != payment.amount:
            raise ValidationError(
                ErrorCode.PARTIAL_REFUND_NOT_ALLOWED,
                f"refunds are full only: the amount must be {payment.amount} (or omitted)")
        refund = start_refund(conn, payment, reason="requested", requested_by=actor.id,
                              provider=provider or provider_for(conn), now=now)
        audit.record(conn, actor, "refund.request", "refund", refund.id,
                     {"order_id": str(order_id), "amount": refund.amount,
                      "status": refund.status})
        return refund
