"""A payment of an order as stored (`payments`): the record, its reads and its event.

Split from `service` (which decides what the PSP's outcomes do) so that `payouts` and
`refunds` read payments without importing the module that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, NotFoundError
from marketplace_core.outbox import emit
from schemas.topics import CORE_PAYMENTS


@dataclass(frozen=True)
class Payment:
    id: UUID
    order_id: UUID
    buyer_id: UUID
    merchant_id: UUID
    shop_id: UUID
    amount: Decimal
    currency: str
    status: str  # pending | succeeded | failed
    provider: str
    psp_payment_id: str
    confirmation_url: str
    acquiring_fee: Decimal | None
    take_rate: Decimal | None
    take_rate_amount: Decimal | None
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None
    failed_at: datetime | None


PAYMENT_COLS = (
    "id, order_id, buyer_id, merchant_id, shop_id, amount, currency, status, provider,"
    " psp_payment_id, confirmation_url, acquiring_fee, take_rate, take_rate_amount,"
    " created_at, updated_at, succeeded_at, failed_at"
)


def one(conn: Connection, where: str, params: tuple[Any, ...], *, lock: bool = False
         ) -> Payment | None:
    sql = f"select {PAYMENT_COLS} from payments where {where}" + (" for update" if lock else "")
    with conn.cursor(row_factory=class_row(Payment)) as cur:
        return cur.execute(sql.encode(), params).fetchone()


def get_payment(conn: Connection, payment_id: UUID, *, lock: bool = False) -> Payment:
    """The payment; raises PAYMENT_NOT_FOUND."""
    payment = one(conn, "id = %s", (payment_id,), lock=lock)
    if payment is None:
        raise NotFoundError(ErrorCode.PAYMENT_NOT_FOUND, f"payment {payment_id} does not exist")
    return payment


def find_by_psp_id(conn: Connection, provider: str, psp_payment_id: str, *,
                   lock: bool = False) -> Payment | None:
    return one(conn, "provider = %s and psp_payment_id = %s", (provider, psp_payment_id),
               lock=lock)


def list_for_order(conn: Connection, order_id: UUID) -> list[Payment]:
    with conn.cursor(row_factory=class_row(Payment)) as cur:
        return cur.execute(
            f"select {PAYMENT_COLS} from payments where order_id = %s"
            " order by created_at, id".encode(),
            (order_id,),
        ).fetchall()


def succeeded_payment_of_order(conn: Connection, order_id: UUID, *, lock: bool = False
                               ) -> Payment | None:
    """The payment that paid the order (the first success if a buyer somehow paid twice)."""
    return one(conn,
               "order_id = %s and status = 'succeeded' order by succeeded_at, id limit 1",
               (order_id,), lock=lock)


def emit_payment(conn: Connection, payment: Payment, event_type: str) -> None:
    emit(
        conn, CORE_PAYMENTS, entity_type="payment", entity_id=payment.id, event_type=event_type,
        record={
            "payment_id": payment.id, "order_id": payment.order_id,
            "buyer_id": payment.buyer_id, "merchant_id": payment.merchant_id,
            "shop_id": payment.shop_id, "status": payment.status, "amount": payment.amount,
            "currency": payment.currency, "provider": payment.provider,
            "psp_payment_id": payment.psp_payment_id, "acquiring_fee": payment.acquiring_fee,
            "take_rate": payment.take_rate, "take_rate_amount": payment.take_rate_amount,
        },
    )
