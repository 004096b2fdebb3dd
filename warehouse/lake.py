"""Reading the lake's Delta tables directly through ClickHouse's Delta Lake reader.

For checks and tests outside the process that owns the embedded warehouse: in embedded
mode these queries run in a throwaway in-memory chdb engine (it opens no warehouse
directory, so it never contends for the owner's lock); with CLICKHOUSE_URL, on the server.
"""

from __future__ import annotations

from typing import Any

import clickhouse_connect

from infra.settings import get_settings


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


def bronze_decode_errors() -> dict[str, int]:
    """Records of the POS bronze table that could not be decoded, by reason code."""
    src = delta_source(get_settings().lake_pos_sales_path)
    rows = _lake_client().query(
        f"SELECT decode_error, count() FROM {src} WHERE decode_error IS NOT NULL "
        "GROUP BY decode_error"
    ).result_rows
    return {str(code): int(n) for code, n in rows}


def bronze_offsets_for_shop(shop_id: str) -> list[tuple[int, int]]:
    """(partition, offset) of every bronze record of one shop, duplicates included."""
    src = delta_source(get_settings().lake_pos_sales_path)
    rows = _lake_client().query(
        f"SELECT partition, offset FROM {src} WHERE shop_id = {{shop:String}}",
        parameters={"shop": shop_id},
    ).result_rows
    return [(int(p), int(o)) for p, o in rows]
