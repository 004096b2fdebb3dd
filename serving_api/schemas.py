"""Request and response shapes of the serving API (storage code lives in `reports/`)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class ReportColumn(BaseModel):
    name: str
    title: str = Field(description="The column's title for sellers (ru)")
    kind: str = Field(description="date, text, id, count, money (KGS) or percent")


class PageInfo(BaseModel):
    number: int
    size: int
    rows: int = Field(description="Rows in the whole range (every page)")
    pages: int


class ReportResponse(BaseModel):
    """Any declared report (serving_api/reports/catalog.py): its columns, one page of rows
    and totals over every row. Money and per cent are decimal strings ("1499.00")."""

    report: str
    title: str
    shop_id: UUID
    date_from: dt.date = Field(alias="from")
    date_to: dt.date = Field(alias="to")
    currency: str = "KGS"
    timezone: str
    surface: str | None = None
    sort: str
    as_of: dt.datetime | None = Field(
        description="The newest landed event the figures include; null before any")
    columns: list[ReportColumn]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = Field(
        description="Over every row of the range (ratios recomputed, not summed)")
    page: PageInfo

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
