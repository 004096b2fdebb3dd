"""A tiny client for analysts' notebooks: the warehouse through the serving API, the lake
straight from Delta, both as polars DataFrames with exact types (money stays Decimal).

    from lakehouse import warehouse, delta
    sales = warehouse("SELECT shop_id, date, net FROM shop_metric_daily")
    shops = delta("core_shops", layer="current")

- `warehouse(sql)`: POST /analytics/sql (read-only, limits in the README) as Arrow. The
  token: `ANALYST_TOKEN`, or `login(email, password, totp_code)` once per session (the
  core API's sign-in, like any analyst). The API: `SERVING_API_URL`, else the settings'.
- `delta(table, layer)`: the lake table's Delta log read with polars (the `deltalake`
  package); its location comes from the lake catalog (`pipelines.lake_catalog`, with
  `LAKE_PREFIX`), the MinIO/S3 endpoint and credentials from `infra.settings`.

The embedded warehouse belongs to the serving API's process, so nothing here opens it.
"""

from __future__ import annotations

import io
import os
from typing import Any, Literal

import httpx
import polars as pl

from infra.settings import get_settings
from pipelines.lake_catalog import by_name

Layer = Literal["bronze", "silver", "current"]
TIMEOUT_SECONDS = 120.0
_token: str | None = None


class WarehouseError(RuntimeError):
    """The serving API refused or failed a query: `code` is its stable error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def serving_url() -> str:
    return os.environ.get("SERVING_API_URL") or get_settings().serving_api_url


def core_url() -> str:
    s = get_settings()
    return os.environ.get("CORE_API_URL") or f"http://{s.bind_host}:{s.core_api_port}"


def login(email: str, password: str, totp_code: str) -> str:
    """Sign in on the core API (an analyst account, TOTP code from its authenticator);
    later `warehouse()` calls use the token (15 minutes; sign in again after)."""
    global _token
    r = httpx.post(f"{core_url()}/auth/login", timeout=30,
                   json={"email": email, "password": password, "totp_code": totp_code})
    _raise_for_error(r)
    _token = str(r.json()["access_token"])
    return _token


def _bearer() -> dict[str, str]:
    token = _token or os.environ.get("ANALYST_TOKEN")
    if not token:
        raise RuntimeError("no analyst token: set ANALYST_TOKEN or call "
                           "lakehouse.login(email, password, totp_code)")
    return {"Authorization": f"Bearer {token}"}


def _raise_for_error(r: httpx.Response) -> None:
    if r.status_code < 400:
        return
    try:
        error = r.json()["error"]
        raise WarehouseError(r.status_code, error["code"], error["message"])
    except (ValueError, KeyError, TypeError):
        raise WarehouseError(r.status_code, "HTTP_ERROR", r.text[:500]) from None


def warehouse(sql: str, *, allow_truncated: bool = False) -> pl.DataFrame:
    """The rows of one read-only SELECT over the warehouse (dbt models), exact types.
    A result cut at the row limit raises unless `allow_truncated`."""
    r = httpx.post(f"{serving_url()}/analytics/sql", headers=_bearer(),
                   json={"sql": sql, "format": "arrow"}, timeout=TIMEOUT_SECONDS)
    _raise_for_error(r)
    if r.headers.get("x-truncated") == "true" and not allow_truncated:
        raise WarehouseError(200, "TRUNCATED",
                             f"the result was cut at {r.headers.get('x-row-count')} rows: "
                             "aggregate, filter, or pass allow_truncated=True")
    return pl.read_ipc(io.BytesIO(r.content))


def tables() -> dict[str, dict[str, str]]:
    """The warehouse's tables: name -> {column: ClickHouse type}."""
    r = httpx.get(f"{serving_url()}/analytics/sql/tables", headers=_bearer(), timeout=30)
    _raise_for_error(r)
    return {t["name"]: {c["name"]: c["type"] for c in t["columns"]}
            for t in r.json()["tables"]}


def storage_options() -> dict[str, str]:
    """object_store options for the lake's bucket (MinIO locally), from the settings."""
    s = get_settings()
    return {
        "AWS_ENDPOINT_URL": s.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": s.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": s.s3_secret_key,
        "AWS_REGION": s.s3_region,
        "AWS_ALLOW_HTTP": "true" if s.s3_endpoint_url.startswith("http://") else "false",
    }


def delta_uri(table: str, layer: Layer = "silver") -> str:
    t = by_name(table)
    relative = {"bronze": t.bronze_path, "silver": t.silver_path,
                "current": t.current_path}[layer]
    if relative is None:
        raise KeyError(f"{table} has no current-state table (no entity key)")
    return f"s3://{get_settings().lake_bucket}/{relative}"


def delta(table: str, layer: Layer = "silver", **scan: Any) -> pl.DataFrame:
    """A lake table as polars reads it from Delta (silver: one row per event; current:
    one row per entity; bronze: the Kafka records as sent). Times are UTC."""
    return pl.read_delta(delta_uri(table, layer), storage_options=storage_options(), **scan)


def scan_delta(table: str, layer: Layer = "silver") -> pl.LazyFrame:
    """Lazily, to filter or select before reading (partition pruning on `_event_date`)."""
    return pl.scan_delta(delta_uri(table, layer), storage_options=storage_options())


def local_date(column: str) -> pl.Expr:
    """The Asia/Bishkek calendar date of a UTC timestamp column (the marts' `date`)."""
    return pl.col(column).dt.convert_time_zone(get_settings().timezone).dt.date()
