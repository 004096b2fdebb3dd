"""Payout onboarding: where a merchant's instant payouts go, and whether its shops may sell.

Payments owns the payout accounts (`merchant_payout_accounts`) and decides each shop's
payout status, which the catalog stores on its shop (`catalog.set_shops_payout_status`).
Onboarding stores (or replaces) the merchant's payout account and turns the payout status
to `active` for all its shops; an admin's suspension turns them
`inactive`. Either way the shops' buy eligibility is refreshed in the same transaction, so
the change is announced on `core.shop_eligibility` (and each changed shop on `core.shops`).
A suspended account can only be re-onboarded by an admin: otherwise a seller could undo
the suspension by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError, ValidationError
from marketplace_core.orders import eligibility

PROVIDERS = ("elsom", "mbank", "bank")
# Elsom and MBank wallets are tied to a Kyrgyz phone number (+996 and 9 digits); bank
# accounts (and wallet account numbers) are digit strings: 16 digits in the KR, up to 34
# for an IBAN-like number.
_PHONE = re.compile(r"^\+996[0-9]{9}$")
_ACCOUNT = re.compile(r"^[0-9]{10,34}$")


@dataclass(frozen=True)
class PayoutAccount:
    merchant_id: UUID
    provider: str
    account_number: str
    bank_name: str | None
    account_holder: str | None
    status: str
    onboarded_at: datetime
    suspended_at: datetime | None
    suspension_reason: str | None
    updated_at: datetime

    @property
    def masked_number(self) -> str:
        """The number as shown to people: only the last 4 characters."""
        return "*" * max(len(self.account_number) - 4, 0) + self.account_number[-4:]


_COLS = (
    "merchant_id, provider, account_number, bank_name, account_holder, status,"
    " onboarded_at, suspended_at, suspension_reason, updated_at"
)


def normalise_account_number(provider: str, account_number: str) -> str:
    """The account number without spaces/dashes; raises INVALID_PAYOUT_ACCOUNT."""
    if provider not in PROVIDERS:
        raise ValidationError(
            ErrorCode.INVALID_PAYOUT_ACCOUNT, f"provider must be one of {PROVIDERS}")
    number = re.sub(r"[\s-]", "", account_number or "")
    wallet = provider in ("elsom", "mbank")
    if _ACCOUNT.match(number) or (wallet and _PHONE.match(number)):
        return number
    expected = "a +996 phone number or 10-34 digits" if wallet else "10-34 digits"
    raise ValidationError(
        ErrorCode.INVALID_PAYOUT_ACCOUNT, f"{provider} account number must be {expected}")


def get_payout_account(conn: Connection, merchant_id: UUID) -> PayoutAccount | None:
    """The merchant's payout account (the payout destination), if it was onboarded."""
    with conn.cursor(row_factory=class_row(PayoutAccount)) as cur:
        return cur.execute(
            f"select {_COLS} from merchant_payout_accounts where merchant_id = %s".encode(),
            (merchant_id,),
        ).fetchone()


def onboard(
    conn: Connection,
    merchant_id: UUID,
    *,
    provider: str,
    account_number: str,
    bank_name: str | None = None,
    account_holder: str | None = None,
    by_admin: bool = False,
    now: datetime | None = None,
) -> tuple[PayoutAccount, list[eligibility.Eligibility]]:
    """Store the merchant's payout account as active and activate payouts of all its shops.

    Raises MERCHANT_NOT_FOUND, INVALID_PAYOUT_ACCOUNT (bad provider/number, a bank account
    without bank_name), PAYOUT_SUSPENDED (suspended by an admin; only an admin may
    re-onboard). Returns the account and the shops' eligibility after the change.
    """
    at = now or datetime.now(UTC)
    number = normalise_account_number(provider, account_number)
    bank = (bank_name or "").strip() or None
    if provider == "bank" and bank is None:
        raise ValidationError(
            ErrorCode.INVALID_PAYOUT_ACCOUNT, "bank_name is required for a bank account")
    holder = (account_holder or "").strip() or None
    with conn.transaction():
        _lock_merchant(conn, merchant_id)
        current = get_payout_account(conn, merchant_id)
        if current is not None and current.status == "suspended" and not by_admin:
            raise ConflictError(
                ErrorCode.PAYOUT_SUSPENDED,
                "payouts of this merchant were suspended by an administrator")
        with conn.cursor(row_factory=class_row(PayoutAccount)) as cur:
            account = cur.execute(
                "insert into merchant_payout_accounts (merchant_id, provider, account_number,"
                " bank_name, account_holder, status, onboarded_at, updated_at)"
                " values (%(m)s, %(p)s, %(n)s, %(b)s, %(h)s, 'active', %(at)s, %(at)s)"
                " on conflict (merchant_id) do update set provider = excluded.provider,"
                " account_number = excluded.account_number, bank_name = excluded.bank_name,"
                " account_holder = excluded.account_holder, status = 'active',"
                " onboarded_at = excluded.onboarded_at, suspended_at = null,"
                f" suspension_reason = null, updated_at = excluded.updated_at returning {_COLS}"
                .encode(),
                {"m": merchant_id, "p": provider, "n": number, "b": bank, "h": holder,
                 "at": at},
            ).fetchone()
        assert account is not None
        states = _set_shops_payout(conn, merchant_id, "active", at)
    return account, states


def suspend(
    conn: Connection, merchant_id: UUID, *, reason: str | None = None,
    now: datetime | None = None,
) -> tuple[PayoutAccount | None, list[eligibility.Eligibility]]:
    """Suspend the merchant's payouts (admin): its shops become `inactive`, hence
    `manual_contact`. Works without an onboarded account too (shops are created with an
    active payout status by default). Raises MERCHANT_NOT_FOUND."""
    at = now or datetime.now(UTC)
    with conn.transaction():
        _lock_merchant(conn, merchant_id)
        with conn.cursor(row_factory=class_row(PayoutAccount)) as cur:
            account = cur.execute(
                "update merchant_payout_accounts set status = 'suspended', suspended_at = %s,"
                f" suspension_reason = %s, updated_at = %s where merchant_id = %s"
                f" returning {_COLS}".encode(),
                (at, (reason or "").strip() or None, at, merchant_id),
            ).fetchone()
        states = _set_shops_payout(conn, merchant_id, "inactive", at)
    return account, states


def _lock_merchant(conn: Connection, merchant_id: UUID) -> None:
    # Serialises onboarding/suspension of one merchant (and makes the 404 race-free).
    if not catalog.lock_merchant(conn, merchant_id):
        raise NotFoundError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} does not exist")


def _set_shops_payout(
    conn: Connection, merchant_id: UUID, status: str, at: datetime
) -> list[eligibility.Eligibility]:
    assert status in catalog.PAYOUT_STATUSES
    # This module decides payout_status (the catalog's PATCH /shops leaves it alone); the
    # catalog writes it and announces each changed shop on core.shops.
    catalog.set_shops_payout_status(conn, merchant_id, status)
    return eligibility.refresh_shops_of_merchant(conn, merchant_id, at)
