"""Online orders' daily figures per shop, from the orders themselves: the truth a seller's
report is reconciled against (`make reconcile`).

Per shop and local business day (the platform timezone): gross = totals of orders paid
that day (by paid_at); refunds = totals of orders refunded that day (refunds are full, by
refunded_at); net = gross - refunds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from marketplace_core.db import Connection

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class OnlineDay:
    shop_id: UUID
    day: dt.date
    orders_paid: int
    gross: Decimal
    refunds: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds


_SQL = """
with paid as (
    select shop_id, (paid_at at time zone %(tz)s)::date as day, count(*) as n,
           sum(total) as gross
    from orders where paid_at is not null
      and (%(shop)s::uuid is null or shop_id = %(shop)s::uuid)
    group by 1, 2
),
refunded as (
    select shop_id, (refunded_at at time zone %(tz)s)::date as day, sum(total) as amount
    from orders where refunded_at is not null
      and (%(shop)s::uuid is null or shop_id = %(shop)s::uuid)
    group by 1, 2
)
select coalesce(p.shop_id, r.shop_id), coalesce(p.day, r.day), coalesce(p.n, 0),
       coalesce(p.gross, 0), coalesce(r.amount, 0)
from paid p full join refunded r on r.shop_id = p.shop_id and r.day = p.day
order by 1, 2
"""


def daily_online_figures(conn: Connection, timezone: str,
                         shop_id: UUID | None = None) -> list[OnlineDay]:
    rows = conn.execute(_SQL, {"tz": timezone, "shop": shop_id}).fetchall()
    return [OnlineDay(shop_id=r[0], day=r[1], orders_paid=int(r[2]),
                      gross=Decimal(r[3]).quantize(ZERO), refunds=Decimal(r[4]).quantize(ZERO))
            for r in rows]
