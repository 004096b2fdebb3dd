"""The merchant's ad wallet: money in the double-entry ledger, moved only here.

Accounts (marketplace_core.payments.ledger): `ad_wallet:<merchant>` is the money free to
spend, `ad_hold:<merchant>` the money held for active campaigns; the wallet's balance is
their sum. Both are never-negative accounts: the database refuses any entry that would
take one below zero (LEDGER_OVERDRAWN), whatever the code path or the race.

Every movement first locks the merchant's `ad_wallets` row (`lock_wallet`), so movements
of one merchant serialise and each sees the balances the previous one left.

Entries (A = amount, F = the PSP's fee):
- `ad_topup` (PSP webhook confirms a top-up): Dr psp_clearing A−F, Dr acquiring_fees F,
  Cr ad_wallet A. The wallet gets the whole amount; the platform bears the PSP's fee.
- `ad_hold` / `ad_hold_release`: Dr ad_wallet, Cr ad_hold (and back).
- `ad_charge`: Dr ad_hold (the campaign's held part first), Dr ad_wallet (the rest),
  Cr platform_revenue:ads (marketplace_core.ads.billing).
- `ad_credit` (invalid traffic): Dr platform_revenue:ads, Cr ad_wallet.

Top-ups go through the configured PSP exactly like order payments: `start_topup` creates
the PSP payment and returns its confirmation URL; the PSP's signed webhook
(`POST /webhooks/psp`, marketplace_core.payments.webhooks) finds no order payment with that
PSP id and hands the event to `process_topup_event`, idempotent on the PSP's event id.

`statement(merchant, month)`: opening balance (before the 1st, 00:00 Asia/Bishkek), every
entry of the month that changed the balance (top-ups, charges, credits; a hold only moves
money inside the wallet and is not listed), the closing balance; opening + entries =
closing exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from psycopg.rows import class_row

from infra.settings import get_settings
from marketplace_core import audit
from marketplace_core.audit.log import Actor
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    DomainError,
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from marketplace_core.payments import ledger
from marketplace_core.payments.providers import provider_for
from marketplace_core.subscriptions import plans
from marketplace_core.subscriptions import service as subscriptions
from platform_common.money import MAX_AMOUNT, is_whole_cents, to_cents_half_even

CURRENCY = "KGS"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def bishkek() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def today(now: datetime | None = None) -> date:
    """The Asia/Bishkek calendar date at `now` (default: now)."""
    return (now or datetime.now(UTC)).astimezone(bishkek()).date()


def day_start(day: date) -> datetime:
    """00:00 Asia/Bishkek of `day`, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=bishkek())


# --- plan gating -----------------------------------------------------------------------------

def require_ads_access(conn: Connection, merchant_id: UUID) -> None:
    """403 ADS_NOT_IN_PLAN unless the merchant's plan (trial included) has ads access."""
    sub = subscriptions.get_subscription(conn, merchant_id)
    plan = plans.get_plan(conn, sub.plan_code)
    if not plan.ads_access:
        raise ForbiddenError(ErrorCode.ADS_NOT_IN_PLAN,
                             f"the {plan.code} plan has no ads; PRO and ENTERPRISE do")


# --- balances ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Balance:
    merchant_id: UUID
    available: Decimal  # free to spend or hold
    held: Decimal  # held for active campaigns

    @property
    def total(self) -> Decimal:
        return self.available + self.held


def lock_wallet(conn: Connection, merchant_id: UUID) -> None:
    """Take the merchant's wallet lock until the transaction ends (creating its row)."""
    conn.execute("insert into ad_wallets (merchant_id) values (%s) on conflict do nothing",
                 (merchant_id,))
    conn.execute("select 1 from ad_wallets where merchant_id = %s for update", (merchant_id,))


def balance(conn: Connection, merchant_id: UUID, at: datetime | None = None) -> Balance:
    """The wallet's balances (from entries written before `at`, or all)."""
    free, held = ledger.ad_wallet(merchant_id), ledger.ad_hold(merchant_id)
    got = ledger.balances_at(conn, [free, held], at)
    return Balance(merchant_id, got[free], got[held])


def hold(conn: Connection, merchant_id: UUID, amount: Decimal, memo: str,
         at: datetime | None = None) -> None:
    """Move `amount` from free to held (caller holds the wallet lock and checked funds)."""
    ledger.post(conn, "ad_hold", [ledger.debit(ledger.ad_wallet(merchant_id), amount),
                                  ledger.credit(ledger.ad_hold(merchant_id), amount)],
                memo=memo, created_at=at)


def release(conn: Connection, merchant_id: UUID, amount: Decimal, memo: str,
            at: datetime | None = None) -> None:
    """Move `amount` from held back to free."""
    ledger.post(conn, "ad_hold_release",
                [ledger.debit(ledger.ad_hold(merchant_id), amount),
                 ledger.credit(ledger.ad_wallet(merchant_id), amount)], memo=memo,
                created_at=at)


# --- top-ups -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Topup:
    id: UUID
    merchant_id: UUID
    amount: Decimal
    currency: str
    status: str  # pending | succeeded | failed
    provider: str
    psp_payment_id: str
    confirmation_url: str
    acquiring_fee: Decimal | None
    created_at: datetime
    completed_at: datetime | None


_TOPUP_COLS = ("id, merchant_id, amount, currency, status, provider, psp_payment_id,"
               " confirmation_url, acquiring_fee, created_at, completed_at")


def validate_amount(amount: Any, low: Decimal, high: Decimal, what: str) -> Decimal:
    """A positive KGS amount with at most 2 decimals within [low, high]; else 422
    AD_INVALID_AMOUNT."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise ValidationError(ErrorCode.AD_INVALID_AMOUNT, f"{what} must be a decimal amount")
    value = Decimal(amount)
    if not value.is_finite() or value.copy_abs() > MAX_AMOUNT:
        raise ValidationError(ErrorCode.AD_INVALID_AMOUNT, f"{what} is not a valid amount")
    if not is_whole_cents(value) or not low <= value <= high:
        raise ValidationError(ErrorCode.AD_INVALID_AMOUNT,
                              f"{what} must be {low}..{high} KGS with at most 2 decimals")
    return to_cents_half_even(value)


def start_topup(conn: Connection, actor: Actor, merchant_id: UUID, amount: Decimal, *,
                now: datetime | None = None) -> Topup:
    """Create a PSP payment of `amount` for the merchant's wallet; the money arrives when
    the PSP's webhook confirms it. Raises ADS_NOT_IN_PLAN, AD_INVALID_AMOUNT, PSP_ERROR."""
    s = get_settings()
    value = validate_amount(amount, s.policy.ads_min_topup, s.policy.ads_max_topup, "amount")
    with conn.transaction():
        require_ads_access(conn, merchant_id)
        topup_id = uuid4()
        psp = provider_for(conn)
        payment = psp.create_payment(topup_id, value, CURRENCY,
                                     f"Bazaar ad wallet top-up {topup_id}")
        with conn.cursor(row_factory=class_row(Topup)) as cur:
            topup = cur.execute(
                "insert into ad_topups (id, merchant_id, amount, provider, psp_payment_id,"
                " confirmation_url, created_by, created_at) values"
                " (%s, %s, %s, %s, %s, %s, %s, coalesce(%s::timestamptz, now()))"
                f" returning {_TOPUP_COLS}".encode(),
                (topup_id, merchant_id, value, psp.name, payment.psp_payment_id,
                 payment.confirmation_url, actor.id, now)).fetchone()
        assert topup is not None
        audit.record(conn, actor, "ads.wallet.topup_started", "ad_topup", topup_id,
                     {"merchant_id": str(merchant_id), "amount": str(value)})
        return topup


def get_topup(conn: Connection, topup_id: UUID) -> Topup:
    with conn.cursor(row_factory=class_row(Topup)) as cur:
        topup = cur.execute(f"select {_TOPUP_COLS} from ad_topups where id = %s".encode(),
                            (topup_id,)).fetchone()
    if topup is None:
        raise NotFoundError(ErrorCode.AD_TOPUP_NOT_FOUND, f"top-up {topup_id} does not exist")
    return topup


def list_topups(conn: Connection, merchant_id: UUID, limit: int = 50) -> list[Topup]:
    with conn.cursor(row_factory=class_row(Topup)) as cur:
        return cur.execute(
            f"select {_TOPUP_COLS} from ad_topups where merchant_id = %s"
            " order by created_at desc, id limit %s".encode(), (merchant_id, limit)).fetchall()


def process_topup_event(conn: Connection, provider: str, psp_payment_id: str, event_type: str,
                        amount: Decimal, fee: Decimal | None, acquiring_fee: Decimal, *,
                        now: datetime | None = None) -> tuple[str, DomainError | None] | None:
    """The PSP's event for a top-up (called by the webhook in its transaction, after it
    recorded the event id). Returns None if no top-up has that PSP id, else the outcome
    ('processed' | 'ignored' | 'amount_mismatch') and the error to answer with."""
    with conn.cursor(row_factory=class_row(Topup)) as cur:
        topup = cur.execute(
            f"select {_TOPUP_COLS} from ad_topups where provider = %s and psp_payment_id = %s"
            " for update".encode(), (provider, psp_payment_id)).fetchone()
    if topup is None:
        return None
    if amount != topup.amount:
        return "amount_mismatch", ValidationError(
            ErrorCode.AMOUNT_MISMATCH,
            f"amount {amount} does not match the top-up's {topup.amount}")
    at = now or datetime.now(UTC)
    if event_type == "payment.failed":
        if topup.status != "pending":
            return "ignored", None
        conn.execute("update ad_topups set status = 'failed', completed_at = %s where id = %s",
                     (at, topup.id))
        return "processed", None
    if event_type != "payment.succeeded" or topup.status == "succeeded":
        return "ignored", None  # refunds of top-ups do not exist; a success is final
    # A 'failed' top-up reported as succeeded later: the PSP is the authority on money.
    paid_fee = fee if fee is not None else acquiring_fee
    lock_wallet(conn, topup.merchant_id)
    entry = ledger.post(conn, "ad_topup", [
        ledger.debit(ledger.PSP_CLEARING, topup.amount - paid_fee),
        ledger.debit(ledger.ACQUIRING_FEES, paid_fee),
        ledger.credit(ledger.ad_wallet(topup.merchant_id), topup.amount),
    ], memo=f"ad wallet top-up {topup.id}", created_at=at)
    conn.execute("update ad_topups set status = 'succeeded', acquiring_fee = %s,"
                 " journal_entry_id = %s, completed_at = %s where id = %s",
                 (paid_fee, entry, at, topup.id))
    audit.record(conn, None, "ads.wallet.topup_credited", "ad_topup", topup.id,
                 {"merchant_id": str(topup.merchant_id), "amount": str(topup.amount)})
    return "processed", None


# --- the monthly statement ------------------------------------------------------------------

@dataclass(frozen=True)
class StatementLine:
    entry_id: UUID
    at: datetime
    kind: str  # ad_topup | ad_charge | ad_credit
    memo: str | None
    amount: Decimal  # + money in, − money out
    balance_after: Decimal


@dataclass(frozen=True)
class Statement:
    merchant_id: UUID
    month: str
    period_start: datetime
    period_end: datetime
    opening_balance: Decimal
    credits: Decimal  # money in during the month
    debits: Decimal  # money out during the month (positive)
    closing_balance: Decimal
    held_at_close: Decimal
    lines: list[StatementLine]


def parse_month(month: str) -> tuple[datetime, datetime]:
    """[1st 00:00, next 1st 00:00) Asia/Bishkek of 'YYYY-MM'; 422 AD_INVALID_MONTH."""
    found = _MONTH.match(month or "") if isinstance(month, str) else None
    if found is None or not 1 <= int(found.group(2)) <= 12 \
            or not 2000 <= int(found.group(1)) <= 2999:
        raise ValidationError(ErrorCode.AD_INVALID_MONTH, "month must look like 2026-01")
    year, mon = int(found.group(1)), int(found.group(2))
    start = day_start(date(year, mon, 1))
    end = day_start(date(year + (mon == 12), 1 if mon == 12 else mon + 1, 1))
    return start, end


def statement(conn: Connection, merchant_id: UUID, month: str) -> Statement:
    """The wallet's statement for a calendar month (see the module doc)."""
    start, end = parse_month(month)
    free, held = ledger.ad_wallet(merchant_id), ledger.ad_hold(merchant_id)
    opening = balance(conn, merchant_id, start).total
    closing_parts = balance(conn, merchant_id, end)
    running = opening
    lines: list[StatementLine] = []
    money_in = money_out = Decimal("0.00")
    for move in ledger.movements(conn, [free, held], start, end):
        # liabilities: a credit (negative raw amount) is money in for the merchant
        amount = -(move.lines.get(free, Decimal(0)) + move.lines.get(held, Decimal(0)))
        if amount == 0:
            continue  # a hold or release moves money inside the wallet
        running += amount
        if amount > 0:
            money_in += amount
        else:
            money_out -= amount
        lines.append(StatementLine(move.entry_id, move.created_at, move.kind, move.memo,
                                   to_cents_half_even(amount), to_cents_half_even(running)))
    if running != closing_parts.total:  # the ledger is append-only: cannot happen
        raise ConflictError(ErrorCode.LEDGER_UNBALANCED,
                            "the statement does not add up to the closing balance")
    return Statement(merchant_id, month, start, end, opening, money_in, money_out,
                     closing_parts.total, closing_parts.held, lines)
