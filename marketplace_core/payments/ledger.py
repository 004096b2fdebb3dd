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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError

CURRENCY = "KGS"
_CENT = Decimal("0.01")

PSP_CLEARING = "psp_clearing"
ACQUIRING_FEES = "acquiring_fees"
TAKE_RATE_REVENUE = "platform_revenue:take_rate"
SUBSCRIPTION_REVENUE = "platform_revenue:subscriptions"
PAYOUTS_IN_TRANSIT = "payouts_in_transit"
BUYER_REFUNDS_PAYABLE = "buyer_refunds_payable"
SELLER_PAYABLE_PREFIX = "seller_payable"
SUBSCRIPTION_RECEIVABLE_PREFIX = "subscription_receivable"

_KIND_BY_PREFIX = {
    PSP_CLEARING: "asset",
    ACQUIRING_FEES: "expense",
    "platform_revenue": "revenue",
    PAYOUTS_IN_TRANSIT: "liability",
    BUYER_REFUNDS_PAYABLE: "liability",
    SELLER_PAYABLE_PREFIX: "liability",
    SUBSCRIPTION_RECEIVABLE_PREFIX: "asset",
}
_MERCHANT_PREFIXES = (SELLER_PAYABLE_PREFIX, SUBSCRIPTION_RECEIVABLE_PREFIX)
_CREDIT_NORMAL = ("liability", "revenue")


def seller_payable(merchant_id: UUID) -> str:
    return f"{SELLER_PAYABLE_PREFIX}:{merchant_id}"


def subscription_receivable(merchant_id: UUID) -> str:
    return f"{SUBSCRIPTION_RECEIVABLE_PREFIX}:{merchant_id}"


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
        if line.amount != line.amount.quantize(_CENT):
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
) -> UUID | None:
    """Write one balanced journal entry; returns its id (None if every line was zero).

    Raises LEDGER_UNBALANCED if the lines do not sum to zero.
    """
    kept = _check_lines(lines)
    if not kept:
        return None
    with conn.transaction():
        for code in sorted({line.account for line in kept}):
            merchant = code.split(":", 1)[1] if code.startswith(_MERCHANT_PREFIXES) else None
            conn.execute(
                "insert into ledger_accounts (code, kind, merchant_id) values (%s, %s, %s)"
                " on conflict (code) do nothing",
                (code, account_kind(code), merchant),
            )
        row = conn.execute(
            "insert into journal_entries (kind, memo, payment_id, payout_id, refund_id,"
            " subscription_id) values (%s, %s, %s, %s, %s, %s) returning id",
            (kind, memo, payment_id, payout_id, refund_id, subscription_id),
        ).fetchone()
        assert row is not None
        entry_id: UUID = row[0]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into journal_lines (entry_id, account_code, currency, amount)"
                " values (%s, %s, %s, %s)",
                [(entry_id, line.account, currency, line.amount) for line in kept],
            )
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
    return signed.quantize(_CENT)


def entry_lines(conn: Connection, entry_id: UUID) -> list[Line]:
    rows = conn.execute(
        "select account_code, amount from journal_lines where entry_id = %s order by id",
        (entry_id,),
    ).fetchall()
    return [Line(code, amount) for code, amount in rows]


def unbalanced_entries(conn: Connection) -> list[UUID]:
    """Entries whose lines do not sum to zero in some currency (always empty; for checks)."""
    rows = conn.execute(
        "select entry_id from journal_lines group by entry_id, currency having sum(amount) <> 0"
    ).fetchall()
    return [r[0] for r in rows]


__all__ = [
    "ACQUIRING_FEES", "BUYER_REFUNDS_PAYABLE", "PAYOUTS_IN_TRANSIT", "PSP_CLEARING",
    "SUBSCRIPTION_REVENUE", "TAKE_RATE_REVENUE", "LedgerUnbalancedError", "Line",
    "account_kind", "balance", "credit", "debit", "entry_lines", "post", "seller_payable",
    "subscription_receivable", "unbalanced_entries",
]
