"""Sellers' sales report: `GET /analytics/shops/{shop_id}/sales` as JSON or CSV.

Per local (Asia/Bishkek) day and in total: the till's gross, discounts, refunds, voids and
net revenue from the receipts the core applied, receipts, units and the average receipt,
the online orders paid and refunded, and the shop's total net revenue (`shop_metric_daily`).

Who may read which shop: `serving_api.auth` (a seller their merchants' shops, admins and
analysts every shop; another seller's shop is 404 SHOP_NOT_FOUND, like a missing one).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from infra.settings import get_settings
from platform_common.errors import ErrorCode, ServiceUnavailableError, ValidationError
from platform_common.http import error_responses
from serving_api.auth import ReportReader
from serving_api.deps import Warehouse
from serving_api.reports import shop_sales as report
from serving_api.reports.shop_sales import ReportNotReady
from serving_api.schemas import DailySales, ShopSalesReport

router = APIRouter(prefix="/analytics/shops", tags=["analytics"])

MAX_RANGE_DAYS = 366


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"


@router.get(
    "/{shop_id}/sales",
    response_model=ShopSalesReport,
    response_model_by_alias=True,
    summary="Daily sales of one shop: till and online, gross to net",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"},
        **error_responses(401, 403, 404, 422, 503),
    },
    description="Sellers read the shops of their merchants; admins and analysts every shop. "
    "401 UNAUTHORIZED / TOKEN_EXPIRED without a valid token, 403 FORBIDDEN for a buyer, "
    "404 SHOP_NOT_FOUND for a shop the caller may not read (or that does not exist), 422 "
    "INVALID_REQUEST or INVALID_DATE_RANGE, 503 REPORT_NOT_READY before the first build.",
)
async def shop_sales(
    shop_id: UUID,
    reader: ReportReader,
    db: Warehouse,
    date_from: Annotated[dt.date, Query(alias="from", description="First day (Asia/Bishkek)")],
    date_to: Annotated[dt.date, Query(alias="to", description="Last day, inclusive")],
    format: Annotated[ReportFormat, Query()] = ReportFormat.json,
) -> ShopSalesReport | StreamingResponse:
    reader.require_shop(shop_id)  # before anything else can tell shops apart
    if date_to < date_from:
        raise ValidationError(ErrorCode.INVALID_DATE_RANGE, "'to' is before 'from'")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise ValidationError(
            ErrorCode.INVALID_DATE_RANGE, f"at most {MAX_RANGE_DAYS} days per request")
    try:
        data = await run_in_threadpool(report.read, db, shop_id, date_from, date_to)
    except ReportNotReady as exc:
        raise ServiceUnavailableError(
            ErrorCode.REPORT_NOT_READY, "sales reports are being built; retry shortly"
        ) from exc
    if format is ReportFormat.csv:
        return _csv(shop_id, date_from, date_to, data.days)
    return ShopSalesReport(
        shop_id=shop_id, date_from=date_from, date_to=date_to,  # type: ignore[call-arg]
        timezone=get_settings().timezone, days=data.days, totals=data.totals,
    )


def _csv(shop_id: UUID, date_from: dt.date, date_to: dt.date,
         days: list[DailySales]) -> StreamingResponse:
    """One row per day, the JSON's columns in the JSON's order; money as 1499.00."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(report.csv_header())
    for d in days:
        writer.writerow(report.csv_row(d))
    name = f"shop-{shop_id}-sales-{date_from}-{date_to}.csv"
    return StreamingResponse(
        iter([buf.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
