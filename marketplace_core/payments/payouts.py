"""Instant payouts to sellers (spec §3.5) and what a merchant can read of its money.

A payout is made in the transaction that records a successful payment: amount = order
total − take rate − acquiring fee, to the merchant's onboarded payout account
(`<provider>:<account number>`), or to the merchant id when none is on file (the
settlement team then resolves it). Its status is `sent` at once: the transfer itself is
the bank's business, tracked in the ledger as `payouts_in_transit`.

Ledger entry `payout_sent`: Dr seller_payable N, Cr payouts_in_transit N.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.outbox import emit
from marketplace_core.payments import ledger, metrics
from marketplace_core.payments.payout_accounts import get_payout_account
from marketplace_core.payments.records import Payment
from platform_common.money import to_cents_half_even
from schemas.topics import CORE_PAYOUTS

MAX_PAGE = 500


@dataclass(frozen=True)
class Payout:
    id: UUID
    payment_id: UUID
    order_id: UUID
    merchant_id: UUID
    shop_id: UUID
    gross_amount: Decimal
    take_rate_amount: Decimal
    acquiring_fee: Decimal
    amount: Decimal
    currency: str
    destination: str
    status: str
    created_at: datetime


_COLS = (
    "id, payment_id, order_id, merchant_id, shop_id, gross_amount, take_rate_amount,"
    " acquiring_fee, amount, currency, destination, status, created_at"
)


def _destination(conn: Connection, merchant_id: UUID) -> str:
    account = get_payout_account(conn, merchant_id)
    if account is None:
        return f"merchant:{merchant_id}"
    return f"{account.provider}:{account.account_number}"


def _masked(destination: str) -> str:
    # Events go to analytics: only the provider and the last 4 characters leave the core.
    kind, _, number = destination.partition(":")
    if kind == "merchant":
        return destination
    return f"{kind}:{'*' * max(len(number) - 4, 0)}{number[-4:]}"


def send_instant_payout(conn: Connection, payment: Payment, *, now: datetime) -> Payout:
    """Pay the seller for a succeeded payment (fee and take rate already set on it)."""
    try:
        payout = _send_instant_payout(conn, payment, now=now)
    except Exception as exc:
        metrics.PAYOUTS.labels("failed").inc()
        metrics.PAYOUT_FAILURES.labels(type(exc).__name__).inc()
        raise
    metrics.PAYOUTS.labels("sent").inc()
    return payout


def _send_instant_payout(conn: Connection, payment: Payment, *, now: datetime) -> Payout:
    assert payment.acquiring_fee is not None and payment.take_rate_amount is not None
    net = payment.amount - payment.take_rate_amount - payment.acquiring_fee
    with conn.transaction(), conn.cursor(row_factory=class_row(Payout)) as cur:
        payout = cur.execute(
            "insert into payouts (payment_id, order_id, merchant_id, shop_id, gross_amount,"
            " take_rate_amount, acquiring_fee, amount, destination, created_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" returning {_COLS}".encode(),
            (payment.id, payment.order_id, payment.merchant_id, payment.shop_id,
             payment.amount, payment.take_rate_amount, payment.acquiring_fee, net,
             _destination(conn, payment.merchant_id), now),
        ).fetchone()
        assert payout is not None
        ledger.post(conn, "payout_sent", [
            ledger.debit(ledger.seller_payable(payment.merchant_id), net),
            ledger.credit(ledger.PAYOUTS_IN_TRANSIT, net),
        ], payment_id=payment.id, payout_id=payout.id)
        emit(
            conn, CORE_PAYOUTS, entity_type="payout", entity_id=payout.id,
            event_type="payout.sent",
            record={
                "payout_id": payout.id, "payment_id": payout.payment_id,
                "order_id": payout.order_id, "merchant_id": payout.merchant_id,
                "shop_id": payout.shop_id, "status": payout.status,
                "gross_amount": payout.gross_amount,
                "take_rate_amount": payout.take_rate_amount,
                "acquiring_fee": payout.acquiring_fee, "amount": payout.amount,
                "currency": payout.currency, "destination": _masked(payout.destination),
            },
        )
        return payout


def payout_for_payment(conn: Connection, payment_id: UUID) -> Payout | None:
    with conn.cursor(row_factory=class_row(Payout)) as cur:
        return cur.execute(
            f"select {_COLS} from payouts where payment_id = %s".encode(), (payment_id,)
        ).fetchone()


def list_payouts(conn: Connection, merchant_id: UUID, *, limit: int = 100,
                 offset: int = 0) -> list[Payout]:
    """The merchant's payouts, newest first."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT,
                              f"limit must be 1..{MAX_PAGE} and offset >= 0")
    with conn.cursor(row_factory=class_row(Payout)) as cur:
        return cur.execute(
            f"select {_COLS} from payouts where merchant_id = %s"
            " order by created_at desc, id desc limit %s offset %s".encode(),
            (merchant_id, limit, offset),
        ).fetchall()


@dataclass(frozen=True)
class MerchantBalance:
    merchant_id: UUID
    currency: str
    # what the platform owes the merchant (negative: the merchant owes the platform, e.g.
    # after a refund of an order that was already paid out)
    payable: Decimal
    # subscription fees billed and not yet collected
    subscription_receivable: Decimal
    paid_out_total: Decimal
    payouts_count: int


def merchant_balance(conn: Connection, merchant_id: UUID) -> MerchantBalance:
    row = conn.execute(
        "select coalesce(sum(amount), 0), count(*) from payouts where merchant_id = %s",
        (merchant_id,),
    ).fetchone()
    assert row is not None
    return MerchantBalance(
        merchant_id=merchant_id, currency=ledger.CURRENCY,
        payable=ledger.balance(conn, ledger.seller_payable(merchant_id)),
        subscription_receivable=ledger.balance(
            conn, ledger.subscription_receivable(merchant_id)),
        paid_out_total=to_cents_half_even(Decimal(row[0])),
        payouts_count=int(row[1]),
    )
