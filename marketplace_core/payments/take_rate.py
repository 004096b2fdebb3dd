"""The platform's commission on online sales (spec §3.5: kept in the database, 0 by default).

The rate is a fraction of the order total with up to 4 decimals (0.0500 = 5 %), between 0
and 0.5. Changes are appended to `take_rates` (history: who set what, when) and audited;
the newest row is in force. The commission is rounded half up to the tyiyn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

from psycopg.rows import class_row

from marketplace_core import audit
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError
from platform_common.money import to_cents_half_up

MAX_RATE = Decimal("0.5")
_RATE_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class TakeRate:
    rate: Decimal
    set_by: UUID | None
    created_at: datetime


def current(conn: Connection) -> TakeRate:
    with conn.cursor(row_factory=class_row(TakeRate)) as cur:
        row = cur.execute(
            "select rate, set_by, created_at from take_rates order by id desc limit 1"
        ).fetchone()
    assert row is not None, "migration 0007 seeds a 0 take rate"
    return row


def validate_rate(rate: Decimal) -> Decimal:
    """The rate if 0 <= rate <= 0.5 with at most 4 decimals, else INVALID_TAKE_RATE."""
    try:
        ok = (isinstance(rate, Decimal) and rate.is_finite() and 0 <= rate <= MAX_RATE
              and rate == rate.quantize(_RATE_STEP))
    except InvalidOperation:
        ok = False
    if not ok:
        raise ValidationError(
            ErrorCode.INVALID_TAKE_RATE,
            "take rate must be a decimal between 0 and 0.5 with at most 4 decimals")
    return rate.quantize(_RATE_STEP)


def set_rate(conn: Connection, rate: Decimal, actor: audit.Actor) -> TakeRate:
    """Put a new rate in force (admins only: checked by the caller) and audit it."""
    rate = validate_rate(rate)
    with conn.transaction():
        previous = current(conn)
        conn.execute("insert into take_rates (rate, set_by) values (%s, %s)", (rate, actor.id))
        audit.record(conn, actor, "take_rate.set", "take_rate", None,
                     {"from": previous.rate, "to": rate})
        return current(conn)


def commission(amount: Decimal, rate: Decimal) -> Decimal:
    """The platform's share of `amount` at `rate`, half up to the tyiyn."""
    return to_cents_half_up(amount * rate)
