"""Request and response bodies of POST /analytics/sql and GET /analytics/sql/tables."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from platform_common.validated import Text

MAX_SQL_LENGTH = 20_000


class SqlFormat(StrEnum):
    json = "json"
    arrow = "arrow"  # Arrow IPC file: polars.read_ipc(...), decimals stay decimals
    parquet = "parquet"


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: Text = Field(min_length=1, max_length=MAX_SQL_LENGTH,
                     examples=["SELECT date, sum(net) AS net FROM shop_metric_daily "
                               "GROUP BY date ORDER BY date"],
                     description="One SELECT over the warehouse database (its tables "
                                 "unqualified or as <database>.<table>)")
    format: SqlFormat = SqlFormat.json


class SqlColumn(BaseModel):
    name: str
    type: str = Field(description="ClickHouse type, e.g. Decimal(18, 2)", examples=["Date"])


class SqlLimits(BaseModel):
    timeout_seconds: float
    max_rows: int


class SqlResponse(BaseModel):
    """Rows as lists in column order. Decimal values are strings ("1499.00"), dates and
    times ISO 8601, NaN and infinities the strings "NaN", "Infinity", "-Infinity"."""

    columns: list[SqlColumn]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="true: the result had more than max_rows rows and "
                                        "was cut there")
    elapsed_ms: int
    limits: SqlLimits


class WarehouseTable(BaseModel):
    name: str
    engine: str
    columns: list[SqlColumn]


class WarehouseTables(BaseModel):
    database: str
    tables: list[WarehouseTable]
