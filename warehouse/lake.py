"""Reading the lake's Delta tables directly through ClickHouse's Delta Lake reader.

For checks and tests outside the process that owns the embedded warehouse: in embedded
mode these queries run in a throwaway in-memory chdb engine (it opens no warehouse
directory, so it never contends for the owner's lock); with CLICKHOUSE_URL, on the server.
"""

from __future__ import annotations

from typing import Any

import clickhouse_connect

from infra.settings import get_settings
from pipelines.lake_catalog import LakeTable, by_name


def _lake_client() -> Any:
    s = get_settings()
    if s.embedded_warehouse:
        return clickhouse_connect.get_client(interface="chdb")
    from warehouse.client import new_client

    return new_client(s)


def delta_source(relative: str) -> str:
    """The `deltaLake(...)` table function over one table of the lake."""
    s = get_settings()
    return (
        f"deltaLake('{s.lake_http_url(relative)}', '{s.s3_access_key}', '{s.s3_secret_key}')"
    )


def decode_errors(table: LakeTable) -> dict[str, int]:
    """Records of a table's bronze layer that could not be decoded, by reason code."""
    rows = _lake_client().query(
        f"SELECT decode_error, count() FROM {delta_source(table.bronze_path)} "
        "WHERE decode_error IS NOT NULL GROUP BY decode_error"
    ).result_rows
    return {str(code): int(n) for code, n in rows}


def query(sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows of `sql` run over the lake ({bronze:name}, {silver:name}, {current:name} name a
    catalog table's layer), e.g. `SELECT count() FROM {silver:core_orders}`."""
    import re

    def table_fn(m: re.Match[str]) -> str:
        t = by_name(m.group(2))
        rel = {"bronze": t.bronze_path, "silver": t.silver_path,
               "current": t.current_path}[m.group(1)]
        if rel is None:
            raise KeyError(f"{t.name} has no current-state table")
        return delta_source(rel)

    text = re.sub(r"\{(bronze|silver|current):(\w+)\}", table_fn, sql)
    return [tuple(r) for r in _lake_client().query(text, parameters=parameters).result_rows]


# --- for the data-quality checks (pipelines/quality) --------------------------------------

def delta_exists(relative: str) -> bool:
    """Whether a Delta table has been written at `relative` (its log holds a file)."""
    from infra.services.minio import s3_client

    prefix = f"{relative.strip('/')}/_delta_log/"
    listed = s3_client().list_objects_v2(Bucket=get_settings().lake_bucket, Prefix=prefix,
                                         MaxKeys=1)
    return int(listed.get("KeyCount", 0)) > 0


def delta_columns(relative: str) -> dict[str, str]:
    """Column name -> ClickHouse type of one Delta table of the lake."""
    rows = _lake_client().query(f"DESCRIBE TABLE {delta_source(relative)}").result_rows
    return {str(r[0]): str(r[1]) for r in rows}


def query_df(sql: str, parameters: dict[str, Any] | None = None) -> Any:
    """A pandas DataFrame of `sql` (tables named with `delta_source`)."""
    return _lake_client().query_df(sql, parameters=parameters)
