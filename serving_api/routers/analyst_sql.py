"""Analysts' read-only SQL over the warehouse, on the process that owns it.

The embedded warehouse can be opened by one process only (README, "The embedded
warehouse"), so while the stack runs this route is the analysts' way in:

- `POST /analytics/sql` {"sql": "SELECT ...", "format": "json" | "arrow" | "parquet"}:
  one SELECT over the warehouse database, run read-only with a time limit, a row limit
  (cut, `truncated`), a thread and a memory limit (settings `ANALYST_SQL_*`; see
  `serving_api.analyst_sql.runner`), at most `ANALYST_SQL_MAX_CONCURRENT` at a time (then
  429 SQL_BUSY); JSON with typed columns (Decimal as strings), or an Arrow IPC file
  (`polars.read_ipc`) / a Parquet file that polars reads with its exact types;
- `GET /analytics/sql/tables`: the tables and columns that may be queried.

Analysts and admins only: no token 401, sellers and buyers 403 FORBIDDEN (a seller's
reports are scoped to their shops; this is every shop's rows). Every query is one line in
`.local/logs/analyst-sql.log`.
"""

from __future__ import annotations

import io
import threading
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from infra.settings import get_settings
from platform_common.errors import DomainError, ErrorCode, ForbiddenError, RateLimitedError
from platform_common.http import error_responses
from serving_api.analyst_sql import audit, runner
from serving_api.analyst_sql.schemas import (
    SqlColumn,
    SqlFormat,
    SqlLimits,
    SqlRequest,
    SqlResponse,
    WarehouseTable,
    WarehouseTables,
)
from serving_api.auth import Reader, ReportReader
from serving_api.deps import Warehouse

router = APIRouter(tags=["analysts"])

ANALYST_ROLES = frozenset({"analyst", "admin"})
BUSY_WAIT_SECONDS = 1.0
MEDIA_TYPES = {SqlFormat.arrow: "application/vnd.apache.arrow.file",
               SqlFormat.parquet: "application/vnd.apache.parquet"}


def analyst(reader: ReportReader) -> Reader:
    """401 without a valid token (report_reader), 403 unless an analyst or an admin."""
    if reader.role not in ANALYST_ROLES:
        raise ForbiddenError(ErrorCode.FORBIDDEN,
                             "the warehouse SQL is for analysts and admins")
    return reader


Analyst = Annotated[Reader, Depends(analyst)]

_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _slot() -> threading.BoundedSemaphore:
    size = get_settings().analyst_sql_max_concurrent
    with _slots_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


def _run_limited(body: SqlRequest, limits: runner.Limits) -> runner.Result:
    slot = _slot()
    if not slot.acquire(timeout=BUSY_WAIT_SECONDS):
        raise RateLimitedError(ErrorCode.SQL_BUSY,
                               "other analysts' queries are running; retry shortly",
                               retry_after=2)
    try:
        return runner.run(body.sql, arrow=body.format is not SqlFormat.json, limits=limits)
    finally:
        slot.release()


@router.post(
    "/analytics/sql",
    response_model=SqlResponse,
    summary="Run one read-only SELECT over the warehouse (analysts and admins)",
    responses={
        **error_responses(401, 403, 422, 503),
        429: {"description": "SQL_BUSY: too many analyst queries at once"},
        200: {"content": {MEDIA_TYPES[SqlFormat.arrow]: {}, MEDIA_TYPES[SqlFormat.parquet]: {}},
              "description": "JSON rows, or with format arrow/parquet the result as an "
                             "Arrow IPC file / a Parquet file (headers X-Row-Count, "
                             "X-Truncated)"},
    },
)
async def run_sql(body: SqlRequest, caller: Analyst) -> SqlResponse | Response:
    limits = runner.Limits.of(get_settings())
    try:
        result = await run_in_threadpool(_run_limited, body, limits)
    except DomainError as exc:
        audit.record(user_id=caller.user_id, role=caller.role, sql=body.sql,
                     fmt=body.format.value, outcome=exc.code)
        raise
    audit.record(user_id=caller.user_id, role=caller.role, sql=body.sql,
                 fmt=body.format.value, outcome="ok", rows=result.row_count,
                 truncated=result.truncated, elapsed_ms=result.elapsed_ms)
    if result.table is not None:
        headers = {"X-Row-Count": str(result.row_count),
                   "X-Truncated": "true" if result.truncated else "false",
                   "X-Elapsed-Ms": str(result.elapsed_ms)}
        return Response(_encode(result.table, body.format),
                        media_type=MEDIA_TYPES[body.format], headers=headers)
    return SqlResponse(
        columns=[SqlColumn(name=n, type=t) for n, t in result.columns],
        rows=result.rows or [], row_count=result.row_count, truncated=result.truncated,
        elapsed_ms=result.elapsed_ms,
        limits=SqlLimits(timeout_seconds=limits.timeout_seconds, max_rows=limits.max_rows))


def _encode(table: pa.Table, fmt: SqlFormat) -> bytes:
    sink = io.BytesIO()
    if fmt is SqlFormat.parquet:
        pq.write_table(table, sink)
    else:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue()


@router.get(
    "/analytics/sql/tables",
    response_model=WarehouseTables,
    summary="The warehouse tables an analyst may query, with their columns",
    responses=error_responses(401, 403),
)
async def tables(_: Analyst, db: Warehouse) -> WarehouseTables:
    database = get_settings().warehouse_database
    rows = (await run_in_threadpool(
        db.query,
        "SELECT t.name, t.engine, c.name, c.type FROM system.tables AS t "
        "INNER JOIN system.columns AS c ON c.database = t.database AND c.table = t.name "
        "WHERE t.database = {db:String} ORDER BY t.name, c.position",
        parameters={"db": database})).result_rows
    out: dict[str, WarehouseTable] = {}
    for table, engine, column, ctype in rows:
        entry = out.setdefault(table, WarehouseTable(name=table, engine=engine, columns=[]))
        entry.columns.append(SqlColumn(name=column, type=ctype))
    return WarehouseTables(database=database, tables=list(out.values()))
