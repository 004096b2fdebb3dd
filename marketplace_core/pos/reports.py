"""The till's daily figures per shop, straight from the applied receipts: the truth every
number in a seller's report is reconciled against (`make reconcile`).

Per shop and local business day (the platform timezone) of the till event:
gross = sales' line amounts; discounts = sales' discounts + standalone discounts;
refunds = refunds' (lines - discount); voids = what voided receipts had counted
(a voided sale +, a voided refund -), on the day of the void; net = gross - discounts -
refunds - voids. Cash movements are not revenue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from marketplace_core.db import Connection
from platform_common.money import to_cents_half_even


@dataclass(frozen=True)
class TillDay:
    shop_id: UUID
    day: dt.date
    gross: Decimal
    discounts: Decimal
    refunds: Decimal
    voids: Decimal
    receipts: int  # sales

    @property
    def net(self) -> Decimal:
        return self.gross - self.discounts - self.refunds - self.voids


_SQL = """
with lines as (
    select receipt_id, sum(qty * unit_price) as gross
    from pos_receipt_items group by receipt_id
),
receipts as (
    select r.id, r.shop_id, r.event_type, r.receipt_number, r.device_id,
           r.original_receipt_number,
           (r.event_time at time zone %(tz)s)::date as day,
           coalesce(l.gross, 0) as gross, coalesce(r.discount_amount, 0) as discount
    from pos_receipts r left join lines l on l.receipt_id = r.id
    where (%(shop)s::uuid is null or r.shop_id = %(shop)s::uuid)
),
voided as (
    select v.shop_id, v.day,
           sum(case o.event_type when 'sale' then o.gross - o.discount
                                 when 'refund' then -(o.gross - o.discount) else 0 end) as amount
    from receipts v
    join receipts o on o.device_id = v.device_id
                   and o.receipt_number = v.original_receipt_number
    where v.event_type = 'void'
    group by v.shop_id, v.day
),
per_day as (
    select shop_id, day,
           sum(case when event_type = 'sale' then gross else 0 end) as gross,
           sum(case when event_type in ('sale', 'discount') then discount else 0 end)
               as discounts,
           sum(case when event_type = 'refund' then gross - discount else 0 end) as refunds,
           count(*) filter (where event_type = 'sale') as receipts
    from receipts group by shop_id, day
)
select p.shop_id, p.day, p.gross, p.discounts, p.refunds, coalesce(v.amount, 0), p.receipts
from per_day p left join voided v on v.shop_id = p.shop_id and v.day = p.day
order by p.shop_id, p.day
"""


def daily_till_figures(conn: Connection, timezone: str,
                       shop_id: UUID | None = None) -> list[TillDay]:
    rows = conn.execute(_SQL, {"tz": timezone, "shop": shop_id}).fetchall()
    return [TillDay(shop_id=r[0], day=r[1], gross=to_cents_half_even(Decimal(r[2])),
                    discounts=to_cents_half_even(Decimal(r[3])),
                    refunds=to_cents_half_even(Decimal(r[4])),
                    voids=to_cents_half_even(Decimal(r[5])),
                    receipts=int(r[6])) for r in rows]
