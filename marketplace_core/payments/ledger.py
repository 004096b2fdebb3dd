"""The double-entry ledger: every money movement of the platform as a balanced journal entry.

An entry has lines on accounts; a line's amount is positive for a debit and negative for a
credit, and the lines of an entry sum to zero per currency. `post` checks that before
writing, and a deferred constraint trigger (migration 0007) checks it again at commit, so
an unbalanced journal can never be committed by any code path. The ledger is append-only:
corrections are new entries.

Accounts (code → kind; a balance is read debit-positive for assets and expenses,
credit-positive for liabilities and revenue):

- `psp_clearing` (asset): what the PSP holds for us (payments net of its fee, minus
  refunds it paid out). Negative after a refund = we owe the PSP.
- `acquiring_fees` (expense): fees the PSP charged. The seller bears them (spec §3.5), so
  each fee is recharged to the seller's payable and this account nets to 0, except for
  late payments of expired orders, where no seller was involved and the platform bears it.
- `seller_payable:<merchant>` (liability): what we owe the merchant. Credited with a sale,
  debited with the take rate, the fee and the instant payout, so it is 0 after a normal
  purchase. A refund after the instant payout debits it further: a negative balance is a
  receivable from the seller, recovered from later sales (how marketplaces with instant
  payouts handle refunds).
- `platform_revenue:take_rate`, `platform_revenue:subscriptions` (revenue).
- `payouts_in_transit` (liability): payouts instructed to sellers' banks; settled against
  `psp_clearing` by the bank settlement, which is outside this system.
- `buyer_refunds_payable` (liability): late payments we must return to the buyer.
- `subscription_receivable:<merchant>` (asset): subscription fees the merchant owes.
- `ad_wallet:<merchant>` (liability): the merchant's prepaid ad money still free to spend
  (credited by PSP top-ups and invalid-traffic credits); `ad_hold:<merchant>` (liability):
  the part of it held for active campaigns (moved there from `ad_wallet` and back). Both
  are NEVER NEGATIVE: see below. `platform_revenue:ads` (revenue): ad charges.

Never-negative accounts (migration 0016): an account created with `never_negative` keeps a
running `guarded_balance` in `ledger_accounts`, updated by a trigger on every line posted
to it, under a CHECK that its normal-side balance stays >= 0. The row update serialises
concurrent postings to the account and the check sees the committed total, so no code path
and no race can overdraw it: `post` raises LEDGER_OVERDRAWN (409) and the entry is not
written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import psycopg

from marketplace_core.db import Connection, violated_constraint
from marketplace_core.errors import ConflictError, ErrorCode, ValidationError
from platform_common.money import is_whole_cents, to_cents_half_even

CURRENCY = "KGS"

PSP_CLEARING = "psp_clearing"
ACQUIRING_FEES = "acquiring_fees"
TAKE_RATE_REVENUE = "platform_revenue:take_rate"
SUBSCRIPTION_REVENUE = "platform_revenue:subscriptions"
PAYOUTS_IN_TRANSIT = "payouts_in_transit"
BUYER_REFUNDS_PAYABLE = "buyer_refunds_payable"
SELLER_PAYABLE_PREFIX = "seller_payable"
SUBSCRIPTION_RECEIVABLE_PREFIX = "subscription_receivable"
AD_WALLET_PREFIX = "ad_wallet"
AD_HOLD_PREFIX = "ad_hold"
ADS_REVENUE = "platform_revenue:ads"
NEVER_NEGATIVE_CONSTRAINT = "ledger_accounts_never_negative"

_KIND_BY_PREFIX = {
    PSP_CLEARING: "asset",
    ACQUIRING_FEES: "expense",
    "platform_revenue": "revenue",
    PAYOUTS_IN_TRANSIT: "liability",
    BUYER_REFUNDS_PAYABLE: "liability",
    SELLER_PAYABLE_PREFIX: "liability",
    SUBSCRIPTION_RECEIVABLE_PREFIX: "asset",
    AD_WALLET_PREFIX: "liability",
    AD_HOLD_PREFIX: "liability",
}
_MERCHANT_PREFIXES = (SELLER_PAYABLE_PREFIX, SUBSCRIPTION_RECEIVABLE_PREFIX, AD_WALLET_PREFIX,
                      AD_HOLD_PREFIX)
# accounts whose balance can never go below zero (enforced by the database)
_NEVER_NEGATIVE_PREFIXES = (AD_WALLET_PREFIX, AD_HOLD_PREFIX)
_CREDIT_NORMAL = ("liability", "revenue")


def seller_payable(merchant_id: UUID) -> str:
    return f"{SELLER_PAYABLE_PREFIX}:{merchant_id}"


def subscription_receivable(merchant_id: UUID) -> str:
    return f"{SUBSCRIPTION_RECEIVABLE_PREFIX}:{merchant_id}"


def ad_wallet(merchant_id: UUID) -> str:
    """The merchant's ad money free to spend (never negative)."""
    return f"{AD_WALLET_PREFIX}:{merchant_id}"


def ad_hold(merchant_id: UUID) -> str:
    """The merchant's ad money held for its active campaigns (never negative)."""
    return f"{AD_HOLD_PREFIX}:{merchant_id}"


def is_never_negative(code: str) -> bool:
    return code.split(":", 1)[0] in _NEVER_NEGATIVE_PREFIXES


@dataclass(frozen=True)
class Line:
    """One line of an entry: debit if `amount` > 0, credit if < 0."""

    account: str
    amount: Decimal


def debit(account: str, amount: Decimal) -> Line:
    return Line(account, amount)


def credit(account: str, amount: Decimal) -> Line:
    return Line(account, -amount)


class LedgerUnbalancedError(ValidationError):
    """The lines of an entry do not sum to zero (a bug in the caller)."""


class LedgerOverdrawnError(ConflictError):
    """The entry would take a never-negative account below zero; nothing was written."""


def account_kind(code: str) -> str:
    prefix = code.split(":", 1)[0]
    kind = _KIND_BY_PREFIX.get(prefix)
    if kind is None:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"unknown ledger account {code!r}")
    return kind


def _check_lines(lines: Sequence[Line]) -> list[Line]:
    kept: list[Line] = []
    for line in lines:
        if not isinstance(line.amount, Decimal) or not line.amount.is_finite():
            raise ValidationError(ErrorCode.INVALID_ARGUMENT, "ledger amounts are Decimals")
        if not is_whole_cents(line.amount):
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT, f"ledger amount {line.amount} is not whole tyiyn")
        account_kind(line.account)
        if line.amount != 0:  # a zero line (e.g. a 0 % take rate) carries no information
            kept.append(line)
    total = sum((line.amount for line in kept), Decimal(0))
    if total != 0:
        raise LedgerUnbalancedError(
            ErrorCode.LEDGER_UNBALANCED, f"journal entry does not balance: {total} left over")
    return kept


def post(
    conn: Connection,
    kind: str,
    lines: Sequence[Line],
    *,
    memo: str | None = None,
    payment_id: UUID | None = None,
    payout_id: UUID | None = None,
    refund_id: UUID | None = None,
    subscription_id: UUID | None = None,
    currency: str = CURRENCY,
    created_at: datetime | None = None,
) -> UUID | None:
    """Write one balanced journal entry; returns its id (None if every line was zero).

    `created_at` defaults to the transaction's time (`now()`). Raises LEDGER_UNBALANCED if
    the lines do not sum to zero, LEDGER_OVERDRAWN (409) if a never-negative account would
    go below zero (checked by the database; nothing of the entry is kept).
    """
    kept = _check_lines(lines)
    if not kept:
        return None
    try:
        with conn.transaction():
            for code in sorted({line.account for line in kept}):
                merchant = (code.split(":", 1)[1] if code.startswith(_MERCHANT_PREFIXES)
                            else None)
                conn.execute(
                    "insert into ledger_accounts (code, kind, merchant_id, never_negative)"
                    " values (%s, %s, %s, %s) on conflict (code) do nothing",
                    (code, account_kind(code), merchant, is_never_negative(code)),
                )
            row = conn.execute(
                "insert into journal_entries (kind, memo, payment_id, payout_id, refund_id,"
                " subscription_id, created_at) values (%s, %s, %s, %s, %s, %s,"
                " coalesce(%s::timestamptz, now())) returning id",
                (kind, memo, payment_id, payout_id, refund_id, subscription_id, created_at),
            ).fetchone()
            assert row is not None
            entry_id: UUID = row[0]
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into journal_lines (entry_id, account_code, currency, amount)"
                    " values (%s, %s, %s, %s)",
                    [(entry_id, line.account, currency, line.amount) for line in kept],
                )
    except psycopg.errors.CheckViolation as exc:
        if violated_constraint(exc) != NEVER_NEGATIVE_CONSTRAINT:
            raise
        raise LedgerOverdrawnError(
            ErrorCode.LEDGER_OVERDRAWN,
            f"{kind}: the entry would take a never-negative account below zero") from exc
    return entry_id


def balance(conn: Connection, account: str, currency: str = CURRENCY) -> Decimal:
    """The account's balance on its normal side: debit-positive for assets and expenses,
    credit-positive for liabilities and revenue (what is owed / earned)."""
    row = conn.execute(
        "select coalesce(sum(amount), 0) from journal_lines"
        " where account_code = %s and currency = %s",
        (account, currency),
    ).fetchone()
    raw: Decimal = row[0] if row else Decimal(0)
    signed = -raw if account_kind(account) in _CREDIT_NORMAL else raw
    return to_cents_half_even(signed)


def balances_at(conn: Connection, accounts: Sequence[str], at: datetime | None = None,
                currency: str = CURRENCY) -> dict[str, Decimal]:
    """Each account's normal-side balance from the entries written before `at` (all of
    them if None); an account without lines is 0.00."""
    rows = conn.execute(
        "select l.account_code, sum(l.amount) from journal_lines l"
        " join journal_entries e on e.id = l.entry_id"
        " where l.account_code = any(%s) and l.currency = %s"
        " and (%s::timestamptz is null or e.created_at < %s) group by l.account_code",
        (list(accounts), currency, at, at),
    ).fetchall()
    raw = {code: total for code, total in rows}
    out: dict[str, Decimal] = {}
    for code in accounts:
        value: Decimal = raw.get(code, Decimal(0))
        out[code] = to_cents_half_even(-value if account_kind(code) in _CREDIT_NORMAL else value)
    return out


@dataclass(frozen=True)
class AccountMovement:
    """One entry's effect on a set of accounts (debit-positive sum of its lines there)."""

    entry_id: UUID
    kind: str
    memo: str | None
    created_at: datetime
    lines: dict[str, Decimal]


def movements(conn: Connection, accounts: Sequence[str], start: datetime, end: datetime,
              currency: str = CURRENCY) -> list[AccountMovement]:
    """The entries written in [start, end) that touch `accounts`, oldest first, each with
    its lines on those accounts (raw, debit-positive amounts)."""
    rows = conn.execute(
        "select e.id, e.kind, e.memo, e.created_at, l.account_code, sum(l.amount)"
        " from journal_lines l join journal_entries e on e.id = l.entry_id"
        " where l.account_code = any(%s) and l.currency = %s"
        " and e.created_at >= %s and e.created_at < %s"
        " group by e.id, e.kind, e.memo, e.created_at, l.account_code"
        " order by e.created_at, e.id",
        (list(accounts), currency, start, end),
    ).fetchall()
    out: dict[UUID, AccountMovement] = {}
    for entry_id, kind, memo, created_at, code, amount in rows:
        move = out.setdefault(entry_id, AccountMovement(entry_id, kind, memo, created_at, {}))
        move.lines[code] = amount
    return list(out.values())


def entry_lines(conn: Connection, entry_id: UUID) -> list[Line]:
    rows = conn.execute(
        "select account_code, amount from journal_lines where entry_id = %s order by id",
        (entry_id,),
    ).fetchall()
    return [Line(code, amount) for code, amount in rows]


def account_movement(conn: Connection, entry_ids: Sequence[UUID], account: str) -> Decimal:
    """The net of `account`'s lines in these entries (debits positive, credits negative)."""
    if not entry_ids:
        return Decimal("0.00")
    row = conn.execute(
        "select coalesce(sum(amount), 0) from journal_lines"
        " where entry_id = any(%s) and account_code = %s", (list(entry_ids), account),
    ).fetchone()
    return to_cents_half_even(Decimal(row[0] if row else 0))


def unbalanced_entries(conn: Connection) -> list[UUID]:
    """Entries whose lines do not sum to zero in some currency (always empty; for checks)."""
    rows = conn.execute(
        "select entry_id from journal_lines group by entry_id, currency having sum(amount) <> 0"
    ).fetchall()
    return [r[0] for r in rows]


__all__ = [
    "ACQUIRING_FEES", "ADS_REVENUE", "AD_HOLD_PREFIX", "AD_WALLET_PREFIX",
    "BUYER_REFUNDS_PAYABLE", "PAYOUTS_IN_TRANSIT", "PSP_CLEARING", "SUBSCRIPTION_REVENUE",
    "TAKE_RATE_REVENUE", "AccountMovement", "LedgerOverdrawnError", "LedgerUnbalancedError",
    "Line", "account_kind", "ad_hold", "ad_wallet", "balance", "balances_at", "credit", "debit",
    "entry_lines", "is_never_negative", "movements", "post", "seller_payable",
    "subscription_receivable", "unbalanced_entries",
]
