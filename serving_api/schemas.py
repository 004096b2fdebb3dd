"""Request and response shapes of the serving API (storage code lives in `reports/`)."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from pydantic import BaseModel, Field

# Money leaves as a string ("1499.00") so no JSON client turns it into a float: the
# platform's one Money type, the core API's too.
from platform_common.money import Money


# The figures of the sales report, per day and in total (`shop_metric_daily`, see
# dbt/models/marts/sales/_models.yml for their exact definitions). pos_net = pos_gross -
# pos_discounts - pos_refunds - pos_voids; online_net = online_gross - online_refunds;
# net = pos_net + online_net.
class DailySales(BaseModel):
    date: dt.date = Field(description="Local (Asia/Bishkek) day")
    pos_gross: Money = Field(description="Till sales: sum of qty × unit price, KGS")
    pos_discounts: Money = Field(description="Till discounts (on receipts and standalone)")
    pos_refunds: Money = Field(description="Money given back by till refunds")
    pos_voids: Money = Field(description="Revenue reversed by voids (a voided refund adds back)")
    pos_net: Money = Field(description="Net till revenue")
    receipts: int = Field(description="Sale receipts, less the sales voided that day")
    units: int = Field(description="Units sold at the till, net of refunds and voids")
    avg_receipt: Money | None = Field(
        description="Average sale receipt (voided sales left out); null without receipts")
    online_orders: int = Field(description="Online orders paid that day")
    online_gross: Money = Field(description="Totals of the orders paid that day")
    online_refunds: Money = Field(description="Totals of the orders refunded that day")
    online_net: Money = Field(description="online_gross - online_refunds")
    net: Money = Field(description="Net revenue, till and online: pos_net + online_net")


class SalesTotals(BaseModel):
    pos_gross: Money
    pos_discounts: Money
    pos_refunds: Money
    pos_voids: Money
    pos_net: Money
    receipts: int
    units: int
    avg_receipt: Money | None = Field(
        description="Over the whole range: sales net of voids / receipts; null without any")
    online_orders: int
    online_gross: Money
    online_refunds: Money
    online_net: Money
    net: Money


class ShopSalesReport(BaseModel):
    shop_id: UUID
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    currency: str = "KGS"
    timezone: str
    days: list[DailySales] = Field(description="Days with any till or online activity")
    totals: SalesTotals

    model_config = {"populate_by_name": True}


class RefreshNode(BaseModel):
    name: str
    status: str
    seconds: float
    message: str | None = None


class RefreshResponse(BaseModel):
    success: bool
    seconds: float
    nodes: list[RefreshNode]


class Health(BaseModel):
    status: str
    warehouse: str
