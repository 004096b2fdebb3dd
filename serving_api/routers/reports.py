"""Sellers' reports: one GET endpoint per declared report (`serving_api.reports.catalog`).

`GET /analytics/shops/{shop_id}/{report}` (and `GET /analytics/{report}?shop_id=` for the
reports the spec addresses that way, such as products): the rows of a date range (local
Asia/Bishkek days), filtered by source surface where the report has one, sorted, one page
at a time, with totals over every row and the as-of time of the newest landed event;
`format=csv` or `format=xlsx` streams every row as a file instead of a page, through the
same writers as `/analytics/export` (`serving_api.exports`; `dialect=excel|rfc4180` for CSV).

Who may read which shop: `serving_api.auth` (a seller their merchants' shops, admins and
analysts every shop; another seller's shop is 404 SHOP_NOT_FOUND, like a missing one).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from infra.settings import get_settings
from platform_common.errors import ErrorCode, ServiceUnavailableError, ValidationError
from platform_common.http import error_responses
from platform_common.money import format_money
from serving_api.auth import ReportReader
from serving_api.deps import Warehouse
from serving_api.exports import respond
from serving_api.exports.writers import CsvDialect, ExportFormat
from serving_api.reports import model
from serving_api.reports.catalog import REPORTS
from serving_api.reports.model import Report, ReportNotReady, ReportQuery, Sort
from serving_api.schemas import PageInfo, ReportColumn, ReportResponse

router = APIRouter(tags=["analytics"])

MAX_RANGE_DAYS = 366
# Dates the warehouse can hold and a seller can mean; anything else is a typo or a probe.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
MAX_PAGE_SIZE = 500
# The spec's names for a surface where the events' value differs (seed 000 §22: "ads").
SURFACE_ALIASES = {"ads": "ad"}


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


def validate_query(report: Report, shop_id: UUID, date_from: dt.date, date_to: dt.date,
                   surface: str | None) -> ReportQuery:
    """The shared checks of every report and export (after the shop check)."""
    if date_to < date_from:
        raise ValidationError(ErrorCode.INVALID_DATE_RANGE, "'to' is before 'from'")
    if date_from < EARLIEST or date_to > LATEST:
        raise ValidationError(ErrorCode.INVALID_DATE_RANGE,
                              f"dates must lie between {EARLIEST} and {LATEST}")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise ValidationError(
            ErrorCode.INVALID_DATE_RANGE, f"at most {MAX_RANGE_DAYS} days per request")
    if surface is not None:
        surface = SURFACE_ALIASES.get(surface, surface)
        if not report.surfaces:
            raise ValidationError(ErrorCode.INVALID_SURFACE,
                                  f"the {report.name} report has no source surfaces")
        if surface not in report.surfaces:
            raise ValidationError(
                ErrorCode.INVALID_SURFACE,
                f"surface must be one of {', '.join(report.surfaces)}")
    return ReportQuery(shop_id, date_from, date_to, surface)


def parse_sort(report: Report, text: str | None) -> Sort:
    sort = Sort.parse(report, text)
    if sort is None:
        names = ", ".join(c.name for c in report.visible)
        raise ValidationError(ErrorCode.INVALID_SORT,
                              f"sort by one of {names} (prefix '-' for descending)")
    return sort


def not_ready(report: Report, exc: Exception) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        ErrorCode.REPORT_NOT_READY,
        f"the {report.name} report is being built; retry shortly")


def _reader(report: Report):  # type: ignore[no-untyped-def]
    async def read(
        shop_id: UUID,
        reader: ReportReader,
        db: Warehouse,
        date_from: Annotated[dt.date, Query(alias="from", description="First day (Asia/Bishkek)")],
        date_to: Annotated[dt.date, Query(alias="to", description="Last day, inclusive")],
        surface: Annotated[str | None, Query(
            max_length=32, description="Source surface, where the report has them")] = None,
        sort: Annotated[str | None, Query(
            max_length=64, description="A column; '-column' for descending")] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        format: Annotated[ReportFormat, Query()] = ReportFormat.json,
        dialect: Annotated[CsvDialect, Query(
            description="CSV: excel (';', decimal comma, UTF-8 BOM, ru titles) or rfc4180 "
                        "(',', decimal point, column names)")] = CsvDialect.excel,
    ) -> Any:
        reader.require_shop(shop_id)  # before anything else can tell shops apart
        query = validate_query(report, shop_id, date_from, date_to, surface)
        order = parse_sort(report, sort)
        if format is not ReportFormat.json:
            return await respond.export_response(db, report, query, order,
                                                 ExportFormat(format.value), dialect)
        try:
            data, as_of = await run_in_threadpool(_read, db, report, query, order, page,
                                                  page_size)
        except ReportNotReady as exc:
            raise not_ready(report, exc) from exc
        return ReportResponse(
            report=report.name, title=report.title_ru, shop_id=shop_id,
            date_from=date_from, date_to=date_to,  # type: ignore[call-arg]
            timezone=get_settings().timezone, surface=query.surface,
            sort=("-" if order.descending else "") + order.column, as_of=as_of,
            columns=[ReportColumn(name=c.name, title=c.title_ru, kind=c.kind)
                     for c in report.visible],
            rows=[wire(report, r) for r in data.rows],
            totals=wire(report, data.totals),
            page=PageInfo(number=page, size=page_size, rows=data.total_rows,
                          pages=-(-data.total_rows // page_size)),
        )

    return read


def wire(report: Report, row: dict[str, Any]) -> dict[str, Any]:
    """The visible columns of a row as JSON values: money and per cent as decimal strings
    with 2 places (the platform's one Money format), dates ISO."""
    out: dict[str, Any] = {}
    for c in report.visible:
        if c.name not in row:
            continue
        value = row[c.name]
        if value is not None and c.kind in model.DECIMAL_KINDS:
            value = format_money(value)
        out[c.name] = value
    return out


def _read(db: Any, report: Report, query: ReportQuery, order: Sort, page: int,
          size: int) -> tuple[model.Page, dt.datetime | None]:
    data = model.read_page(db, report, query, order, page, size)
    return data, model.as_of(db, report)


_DOC = ("Sellers read the shops of their merchants; admins and analysts every shop. "
        "401 UNAUTHORIZED / TOKEN_EXPIRED without a valid token, 403 FORBIDDEN for a buyer, "
        "404 SHOP_NOT_FOUND for a shop the caller may not read (or that does not exist), 422 "
        "INVALID_REQUEST, INVALID_DATE_RANGE, INVALID_SURFACE or INVALID_SORT, 503 "
        "REPORT_NOT_READY before the first build. format=csv|xlsx: the file (422 "
        "EXPORT_JOB_REQUIRED above EXPORT_STREAM_MAX_ROWS rows: POST /analytics/export).")

for _report in REPORTS.values():
    # The same reader at `/analytics/shops/{id}/<name>` and, for a report the spec
    # addresses by query (`/analytics/products?shop_id=`), there: shop_id is then a query
    # parameter.
    _paths = [(f"/analytics/shops/{{shop_id}}/{_report.name}", f"report_{_report.name}")]
    if _report.query_route:
        _paths.append((_report.query_route, f"report_{_report.name}_by_query"))
    for _path, _name in _paths:
        router.add_api_route(
            _path,
            _reader(_report),
            methods=["GET"],
            response_model=ReportResponse,
            response_model_by_alias=True,
            summary=_report.description,
            name=_name,
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-"
                                         "officedocument.spreadsheetml.sheet": {}},
                             "description": "JSON, or the file with format=csv|xlsx"},
                       **error_responses(401, 403, 404, 422, 503)},
            description=_DOC,
        )
