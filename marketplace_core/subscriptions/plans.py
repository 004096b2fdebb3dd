"""Subscription plans (spec §3.6): FREE / PRO / ENTERPRISE, seeded by migration 0008.

| plan       | SKU limit | KGS per 30 days | search boost / ads |
|------------|-----------|-----------------|--------------------|
| FREE       | 50        | 0.00            | no                 |
| PRO        | 5,000     | 1,490.00        | yes                |
| ENTERPRISE | unlimited | 4,990.00        | yes                |

A paid period is 30 days (not a calendar month), so every period has the same price and
length whatever day it starts on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from psycopg.rows import class_row

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, NotFoundError

FREE = "FREE"
PRO = "PRO"
ENTERPRISE = "ENTERPRISE"
PLAN_CODES = (FREE, PRO, ENTERPRISE)
BILLING_PERIOD = timedelta(days=30)


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    sku_limit: int | None  # None = unlimited
    monthly_price: Decimal
    search_boost: bool
    ads_access: bool

    @property
    def is_paid(self) -> bool:
        return self.code != FREE


_PLAN_COLS = "code, name, sku_limit, monthly_price, search_boost, ads_access"


def list_plans(conn: Connection) -> list[Plan]:
    with conn.cursor(row_factory=class_row(Plan)) as cur:
        return cur.execute(
            f"select {_PLAN_COLS} from subscription_plans order by sort_order".encode()
        ).fetchall()


def get_plan(conn: Connection, code: str) -> Plan:
    """The plan with this code; raises PLAN_NOT_FOUND."""
    with conn.cursor(row_factory=class_row(Plan)) as cur:
        plan = cur.execute(
            f"select {_PLAN_COLS} from subscription_plans where code = %s".encode(),
            (code.strip().upper(),),
        ).fetchone()
    if plan is None:
        raise NotFoundError(ErrorCode.PLAN_NOT_FOUND, f"no subscription plan {code!r}")
    return plan
