"""Running an analyst's SQL: on an engine session locked read-only, with limits.

Each worker thread keeps one warehouse client for analysts whose session was SET, in this
order, to the limits from the settings and then to `readonly=1`. After that the engine
refuses any SET or SETTINGS clause, so the limits are the engine's, not a promise of this
code: `max_execution_time` (the query is stopped), `max_result_rows` with
`result_overflow_mode=break` (the result is cut, and we say so), `max_threads` and
`max_memory_usage` (so one analyst cannot take the machine from the sellers' reports).
The guard (`guard.py`) refuses what readonly=1 lets through.

Engine errors become stable codes, never a 500: the caller's SQL → 422 INVALID_SQL or
SQL_NOT_ALLOWED, too long → 422 SQL_TIMEOUT, too big → 422 SQL_LIMIT_EXCEEDED, the
warehouse (or the lake behind a staging view) not reachable or not built → 503.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from infra.settings import Settings, get_settings
from platform_common.errors import (
    DomainError,
    ErrorCode,
    ServiceUnavailableError,
    ValidationError,
)
from serving_api.analyst_sql import guard

NATIVE = "Native"  # the FORMAT clickhouse-connect appends to a query


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float
    max_rows: int
    max_threads: int
    max_memory_bytes: int

    @classmethod
    def of(cls, s: Settings) -> Limits:
        return cls(s.analyst_sql_timeout_seconds, s.analyst_sql_max_rows,
                   s.analyst_sql_max_threads, s.analyst_sql_max_memory_bytes)

    def session_settings(self) -> list[tuple[str, Any]]:
        # readonly last: it locks in everything before it.
        return [
            ("max_execution_time", self.timeout_seconds),
            ("timeout_overflow_mode", "throw"),
            # one row more than we return, so a cut result is told from an exact fit
            ("max_result_rows", self.max_rows + 1),
            ("result_overflow_mode", "break"),
            ("max_threads", self.max_threads),
            ("max_memory_usage", self.max_memory_bytes),
            # Arrow output: String as Arrow string (not binary); set here because the
            # read-only session would refuse it as a per-query setting
            ("output_format_arrow_string_as_string", 1),
            ("readonly", 1),
        ]


@dataclass
class Result:
    columns: list[tuple[str, str]]  # (name, ClickHouse type)
    rows: list[list[Any]] | None  # JSON: plain values
    table: pa.Table | None  # Arrow / Parquet
    truncated: bool
    elapsed_ms: int

    @property
    def row_count(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.rows or [])


def session(limits: Limits) -> Any:
    from warehouse.client import get_session_client

    try:
        return get_session_client("analyst", limits.session_settings(),
                                  database=get_settings().warehouse_database)
    except (DatabaseError, OperationalError) as exc:
        raise ServiceUnavailableError(
            ErrorCode.SERVICE_UNAVAILABLE, "the warehouse is not reachable") from exc


def checked_sql(client: Any, sql: str) -> str:
    """The one SELECT of `sql`, as ClickHouse formats it; 422 unless it may run."""
    text = sql.strip()
    try:
        [(formatted,)] = client.query("SELECT formatQuery({q:String})",
                                      parameters={"q": text}).result_rows
    except DatabaseError as exc:
        if "Multi-statements are not allowed" in str(exc):
            raise ValidationError(ErrorCode.SQL_NOT_ALLOWED,
                                  "one statement per request") from exc
        raise engine_error(exc) from exc
    formatted = str(formatted)
    if guard.has_outfile(formatted):
        raise ValidationError(ErrorCode.SQL_NOT_ALLOWED, "INTO OUTFILE is not allowed")
    try:
        lines = guard.explain_lines(client.query(f"EXPLAIN AST {formatted}").result_rows)
    except DatabaseError as exc:
        raise engine_error(exc) from exc
    problems = guard.violations(guard.parse_ast(lines), get_settings().warehouse_database,
                                NATIVE)
    if problems:
        error = ValidationError(ErrorCode.SQL_NOT_ALLOWED, "; ".join(problems))
        error.details = problems  # type: ignore[attr-defined]
        raise error
    return formatted


def run(sql: str, *, arrow: bool, limits: Limits) -> Result:
    """Check and run `sql`; `arrow`: the result as an Arrow table, else as JSON values."""
    client = session(limits)
    started = time.monotonic()
    statement = checked_sql(client, sql)
    try:
        if arrow:
            table = normalised(client.query_arrow(statement))
            truncated = table.num_rows > limits.max_rows
            table = table.slice(0, limits.max_rows)
            columns = [(f.name, str(f.type)) for f in table.schema]
            rows = None
        else:
            # aware: a time is sent with its offset ("…T10:00:00+00:00"), never bare
            result = client.query(statement, tz_mode="aware")
            columns = [(name, t.name) for name, t in
                       zip(result.column_names, result.column_types, strict=True)]
            raw = result.result_rows
            truncated = len(raw) > limits.max_rows
            rows = [[plain(v) for v in row] for row in raw[:limits.max_rows]]
            table = None
    except DatabaseError as exc:
        raise engine_error(exc, limits) from exc
    except OperationalError as exc:
        raise ServiceUnavailableError(
            ErrorCode.SERVICE_UNAVAILABLE, "the warehouse is not reachable") from exc
    elapsed = int((time.monotonic() - started) * 1000)
    return Result(columns, rows, table, truncated, elapsed)


# --- values ---------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """A JSON value that keeps its meaning: Decimal as a string (exact), dates ISO 8601,
    UUIDs as strings, NaN/±Infinity as strings (JSON has no such numbers)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def normalised(table: pa.Table) -> pa.Table:
    """UUID columns (an Arrow extension type that polars does not read) as strings."""
    for i, f in enumerate(table.schema):
        if getattr(f.type, "extension_name", None) == "arrow.uuid":
            storage = pa.chunked_array([c.storage for c in table.column(i).chunks],
                                       type=f.type.storage_type)
            values = [None if b is None else str(uuid.UUID(bytes=b))
                      for b in storage.to_pylist()]
            table = table.set_column(i, pa.field(f.name, pa.string(), f.nullable),
                                     pa.array(values, pa.string()))
    return table


# --- engine errors --------------------------------------------------------------------------

_CODE = re.compile(r"Code: (\d+)")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\W*$")
TIMEOUT = {"TIMEOUT_EXCEEDED"}
TOO_BIG = {"MEMORY_LIMIT_EXCEEDED", "TOO_MANY_ROWS", "TOO_MANY_BYTES",
           "TOO_MANY_ROWS_OR_BYTES", "TOO_BIG_AST", "TOO_DEEP_AST", "TOO_DEEP_SUBQUERIES"}
REFUSED = {"READONLY", "ACCESS_DENIED", "QUERY_IS_PROHIBITED"}
# the lake behind a staging view, or the warehouse itself, is not there right now
UNREACHABLE = {"S3_ERROR", "NETWORK_ERROR", "SOCKET_TIMEOUT", "ALL_CONNECTION_TRIES_FAILED",
               "RECEIVED_ERROR_FROM_REMOTE_IO_SERVER", "CANNOT_CONNECT_TO_SERVER",
               "POCO_EXCEPTION", "CANNOT_LOCK_FILE"}


def engine_error(exc: ClickHouseError, limits: Limits | None = None) -> DomainError:
    """The stable code of an engine error; its message without the engine's boilerplate."""
    text = str(exc)
    names = _NAME.findall(text.strip())
    name = names[-1] if names else ""
    message = clean_message(text)
    if name in TIMEOUT:
        seconds = limits.timeout_seconds if limits else get_settings().analyst_sql_timeout_seconds
        return ValidationError(ErrorCode.SQL_TIMEOUT,
                               f"the query ran longer than {seconds:g} s and was stopped; "
                               "narrow it (dates, shops) or aggregate first")
    if name in TOO_BIG:
        return ValidationError(ErrorCode.SQL_LIMIT_EXCEEDED, message)
    if name in REFUSED:
        return ValidationError(ErrorCode.SQL_NOT_ALLOWED, message)
    if name in UNREACHABLE:
        return ServiceUnavailableError(ErrorCode.SERVICE_UNAVAILABLE,
                                       f"the warehouse could not read its data: {message}")
    return ValidationError(ErrorCode.INVALID_SQL, message)


def clean_message(text: str) -> str:
    """ "Code: 62. DB::Exception: Code: 62. DB::Exception: Syntax error ... (version …).
    (SYNTAX_ERROR)" → "Syntax error ... (SYNTAX_ERROR)" """
    first = text.strip().splitlines()[0] if text.strip() else "the query failed"
    body = re.sub(r"^(?:.*?Code: \d+\. DB::Exception: )+", "", first)
    body = re.sub(r" \(version [^)]*\)\.?", "", body)
    names = _NAME.findall(first)
    body = re.sub(r"(?:\s*\([A-Z][A-Z0-9_]+\)\.?)+\s*$", "", body).rstrip(". ")
    body = body[:2000]
    return f"{body} ({names[-1]})" if names else body
