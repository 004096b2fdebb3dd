"""Hand-written marts for the serving API's tests: the columns each report reads, with the
marts' own types (see dbt/models/marts/*/_models.yml), in the throw-away embedded
warehouse of `serving_env`. Columns a row leaves out take their type's default (0, '')."""

from __future__ import annotations

import json
from typing import Any

from bench.mart_schemas import MARK, SCHEMAS
from infra.settings import get_settings


def create_mart(name: str, rows: list[dict[str, Any]] | None = None) -> None:
    """(Re)create mart `name` holding `rows` (JSON values: money as "12.34" strings)."""
    from warehouse.client import get_client

    db = get_settings().warehouse_database
    client = get_client()
    client.command(f"CREATE DATABASE IF NOT EXISTS `{db}`")
    columns, order_by = SCHEMAS[name]
    mark = [] if name == "shop_follows_daily" else [MARK]  # as in dbt: no watermark
    client.command(f"CREATE OR REPLACE TABLE `{db}`.`{name}` "
                   f"({', '.join([*columns, *mark])}) ENGINE = MergeTree ORDER BY {order_by}")
    if rows:
        body = "\n".join(json.dumps(r) for r in rows)
        client.command(f"INSERT INTO `{db}`.`{name}` FORMAT JSONEachRow {body}")


def create_empty_marts() -> None:
    """Every mart a report reads besides shop_metric_daily, empty."""
    for name in SCHEMAS:
        create_mart(name)
