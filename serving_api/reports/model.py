"""What a report is, and how any declared report is read.

A report is declared once (`serving_api.reports.catalog`): the marts it reads, one SQL
SELECT for one shop and a date range, its columns (name, kind, Russian title, how it
totals) and the key that makes a row unique. The JSON endpoint, the CSV and XLSX exports
and the dashboard all read through the functions here, so they cannot disagree.

The SQL is written against `$db` (the warehouse database) with ClickHouse query
parameters: `{shop:String}`, `{lo:Date}`, `{hi:Date}`, `{tz:String}` (the business time
zone, for "today") and, for reports with surfaces, `{surface:String}` ('' = every surface).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from infra.settings import get_settings
from platform_common.money import to_cents_half_even, to_cents_half_up

ZERO = Decimal("0.00")
_MISSING_TABLE = ("UNKNOWN_TABLE", "UNKNOWN_DATABASE", "doesn't exist", "does not exist")

# date: a local (Asia/Bishkek) day; text/id: labels; count: integer; money: KGS, 2 places;
# percent: a share in per cent, 2 places (ER, CTR, conversion); decimal: a plain number
# with 2 places, neither money nor a share (the overview's values, which mix all three:
# each of its rows says its own kind).
ColumnKind = Literal["date", "datetime", "text", "id", "count", "money", "percent",
                     "decimal"]
NUMERIC_KINDS = ("count", "money", "percent", "decimal")
DECIMAL_KINDS = ("money", "percent", "decimal")  # 2 places, a decimal string in JSON


class ReportNotReady(Exception):
    """A mart the report reads has not been built yet (no refresh has run)."""


@dataclass(frozen=True)
class Ratio:
    """A ratio column's total over many rows: sum(numerator) / sum(denominator), rounded
    half up to the column's places (× 100 for per cent); none when the denominator is 0."""

    numerator: str
    denominator: str


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    title_ru: str
    # How the column totals over the rows: "sum", "none" (labels, dates), or a Ratio.
    total: Literal["sum", "none"] | Ratio = "sum"
    # Read (for a ratio's total) but neither shown nor exported.
    hidden: bool = False

    def __post_init__(self) -> None:
        if self.kind not in NUMERIC_KINDS and self.total == "sum":
            object.__setattr__(self, "total", "none")


@dataclass(frozen=True)
class Report:
    name: str
    title_ru: str
    description: str
    models: tuple[str, ...]
    sql: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # columns that make a row unique: stable pages and exports
    default_sort: str  # a column name, "-name" for descending
    surfaces: tuple[str, ...] = ()  # values of the `surface` filter; () = no such filter
    # Models carrying `_ingested_through` (the newest landed event they include).
    freshness_models: tuple[str, ...] = field(default=())
    # Also served at `GET <query_route>?shop_id=` (the spec's `/analytics/products`).
    query_route: str | None = None

    @property
    def visible(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.hidden)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name and not c.hidden), None)


@dataclass(frozen=True)
class ReportQuery:
    """One shop, a range of local days (inclusive) and an optional surface."""

    shop_id: UUID
    date_from: dt.date
    date_to: dt.date
    surface: str | None = None

    def parameters(self) -> dict[str, Any]:
        return {"shop": str(self.shop_id), "lo": self.date_from, "hi": self.date_to,
                "surface": self.surface or "", "tz": get_settings().timezone}


@dataclass(frozen=True)
class Sort:
    column: str
    descending: bool

    @classmethod
    def parse(cls, report: Report, text: str | None) -> Sort | None:
        """`name` or `-name` for a visible column of the report; None if it has no such."""
        text = text or report.default_sort
        descending = text.startswith("-")
        name = text[1:] if descending else text
        return cls(name, descending) if report.column(name) else None

    def order_by(self, report: Report) -> str:
        direction = "DESC" if self.descending else "ASC"
        tail = [f"`{k}` ASC" for k in report.key if k != self.column]
        return ", ".join([f"`{self.column}` {direction}", *tail])


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    total_rows: int


def render(report: Report) -> str:
    return report.sql.replace("$db", f"`{get_settings().warehouse_database}`")


def _query(client: Any, sql: str, parameters: dict[str, Any]) -> Any:
    try:
        return client.query(sql, parameters=parameters)
    except Exception as exc:
        if any(m in str(exc) for m in _MISSING_TABLE):
            raise ReportNotReady(str(exc)) from exc
        raise


def read_page(client: Any, report: Report, query: ReportQuery, sort: Sort,
              number: int, size: int) -> Page:
    """Rows `(number-1)*size …` in `sort` order, with the totals over every row."""
    base = render(report)
    params = query.parameters()
    summed = [c for c in report.columns if c.kind in NUMERIC_KINDS]
    aggregates = ["count()", *(f"sum(`{c.name}`)" for c in summed)]
    [agg] = _query(client, f"SELECT {', '.join(aggregates)} FROM ({base})", params).result_rows
    total_rows, sums = int(agg[0]), dict(zip((c.name for c in summed), agg[1:], strict=True))
    names = [c.name for c in report.columns]
    result = _query(
        client,
        f"SELECT {', '.join(f'`{n}`' for n in names)} FROM ({base}) "
        f"ORDER BY {sort.order_by(report)} LIMIT {int(size)} OFFSET {int((number - 1) * size)}",
        params)
    rows = [convert(report, dict(zip(names, r, strict=True))) for r in result.result_rows]
    return Page(rows=rows, totals=totals(report, sums), total_rows=total_rows)


def iter_rows(client: Any, report: Report, query: ReportQuery, sort: Sort,
              chunk: int = 50_000) -> Iterator[dict[str, Any]]:
    """Every row in `sort` order, `chunk` rows at a time (constant memory for exports)."""
    base = render(report)
    names = [c.name for c in report.columns]
    offset = 0
    while True:
        result = _query(
            client,
            f"SELECT {', '.join(f'`{n}`' for n in names)} FROM ({base}) "
            f"ORDER BY {sort.order_by(report)} LIMIT {int(chunk)} OFFSET {offset}",
            query.parameters())
        for r in result.result_rows:
            yield convert(report, dict(zip(names, r, strict=True)))
        if len(result.result_rows) < chunk:
            return
        offset += chunk


def count_rows(client: Any, report: Report, query: ReportQuery) -> int:
    [(n,)] = _query(client, f"SELECT count() FROM ({render(report)})",
                    query.parameters()).result_rows
    return int(n)


def as_of(client: Any, report: Report) -> dt.datetime | None:
    """The newest landed event the report's marts include (the oldest of their watermarks,
    so every figure is at least that fresh); None before any event."""
    db = get_settings().warehouse_database
    marks = []
    for model in report.freshness_models:
        [(mark,)] = _query(client, f"SELECT max(`_ingested_through`) FROM `{db}`.`{model}`",
                           {}).result_rows
        if mark is None or mark.year < 1971:  # max() of an empty table is the epoch
            continue
        marks.append(mark if mark.tzinfo else mark.replace(tzinfo=dt.UTC))
    return min(marks) if marks else None


def require_built(client: Any, report: Report) -> None:
    """ReportNotReady unless every mart of the report exists."""
    db = get_settings().warehouse_database
    for model in report.models:
        _query(client, f"SELECT 1 FROM `{db}`.`{model}` LIMIT 0", {})


def convert(report: Report, row: dict[str, Any]) -> dict[str, Any]:
    """Warehouse values → Python: Decimal (2 places) for money and per cent, int counts,
    str ids."""
    out: dict[str, Any] = {}
    for col in report.columns:
        value = row[col.name]
        if value is None:
            out[col.name] = None
        elif col.kind == "count":
            out[col.name] = int(value)
        elif col.kind in DECIMAL_KINDS:
            out[col.name] = to_cents_half_up(Decimal(value))
        elif col.kind in ("id", "text"):
            out[col.name] = str(value)
        else:
            out[col.name] = value
    return out


def totals(report: Report, sums: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in report.visible:
        if col.total == "sum":
            value = sums.get(col.name)
            out[col.name] = (int(value or 0) if col.kind == "count"
                             else to_cents_half_even(Decimal(value or 0)))
        elif isinstance(col.total, Ratio):
            num = Decimal(sums.get(col.total.numerator) or 0)
            den = Decimal(sums.get(col.total.denominator) or 0)
            scale = 100 if col.kind == "percent" else 1
            out[col.name] = (to_cents_half_up(num * scale / den)
                             if den else None)
    return out
