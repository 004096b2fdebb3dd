"""Request and response shapes of the serving API (storage code lives in `reports/`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer

# Money leaves as a string ("1499.00") so no JSON client turns it into a float.
Money = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str)]


class DailySales(BaseModel):
    date: dt.date
    revenue: Money = Field(description="Sum of qty × unit price, KGS")
    receipts: int = Field(description="Distinct receipts (POS sales)")
    units: int = Field(description="Units sold")


class SalesTotals(BaseModel):
    revenue: Money
    receipts: int
    units: int


class ShopSalesReport(BaseModel):
    shop_id: UUID
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    currency: str = "KGS"
    timezone: str
    days: list[DailySales]
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
