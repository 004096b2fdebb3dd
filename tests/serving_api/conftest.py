"""Fixtures for the serving API's tests: the real core API and the real serving API
(in-process, over ASGI) on a session database of their own with the core's migrations,
and a throw-away embedded warehouse holding a hand-written `shop_metric_daily`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from infra.settings import get_settings
from tests.core.auth_helpers import TestUser, make_seller_with_shop, make_user
from tests.in_process_core import core_client, migrated_database
from tests.own_local_dir import own_local_dir
from tests.serving_api.report_marts import create_empty_marts

MONEY = ("pos_gross", "pos_discounts", "pos_refunds", "pos_voids", "pos_net", "online_gross",
         "online_refunds", "online_net", "net", "pos_sales_amount")
COUNTS = ("receipts", "units", "online_orders", "online_units")


@pytest.fixture(scope="module")
def core_dsn(make_database: Callable[[], str]) -> str:
    return migrated_database(make_database)


@pytest.fixture(scope="module")
def core_api(core_dsn: str) -> Iterator[Any]:
    with core_client(core_dsn) as client:
        yield client


@pytest.fixture(scope="module")
def serving_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Settings pointed at a temporary local dir (hence an empty embedded warehouse): the
    real one may be held by a running serving API."""
    root = tmp_path_factory.mktemp("serving")
    # Look the caller up on every request, so a logout shows at once (the cache itself is
    # tested on its own).
    with own_local_dir(root, {"SERVING_ACCESS_CACHE_SECONDS": "0"}):
        yield root


def create_shop_metric_daily(rows: list[dict[str, Any]]) -> None:
    """`shop_metric_daily` with the columns the report reads, and `rows` in it."""
    from warehouse.client import get_client

    db = get_settings().warehouse_database
    client = get_client()
    client.command(f"CREATE DATABASE IF NOT EXISTS `{db}`")
    cols = ["shop_id String", "merchant_id String", "date Date",
            *(f"{c} Decimal(18, 2)" for c in MONEY), *(f"{c} Int64" for c in COUNTS),
            "avg_receipt Nullable(Decimal(18, 2))",
            "_ingested_through DateTime64(6, 'UTC') DEFAULT now64(6)"]
    client.command(f"CREATE OR REPLACE TABLE `{db}`.shop_metric_daily ({', '.join(cols)}) "
                   "ENGINE = MergeTree ORDER BY (shop_id, date)")
    for row in rows:
        names = list(row)
        values = ", ".join(f"'{row[n]}'" if row[n] is not None else "NULL" for n in names)
        client.command(f"INSERT INTO `{db}`.shop_metric_daily ({', '.join(names)}) "
                       f"VALUES ({values})")


def day_row(shop_id: UUID, date: str, net: str) -> dict[str, Any]:
    """A day of one shop whose till sold `net` (one receipt, one unit, no online)."""
    row: dict[str, Any] = {c: "0.00" for c in MONEY}
    row |= {"shop_id": str(shop_id), "merchant_id": "m", "date": date, "pos_gross": net,
            "pos_net": net, "net": net, "pos_sales_amount": net, "receipts": 1, "units": 1,
            "online_orders": 0, "avg_receipt": net}
    return row


@dataclass
class World:
    core: Any
    serving: Any
    seller_a: TestUser
    shop_a: UUID
    seller_b: TestUser
    shop_b: UUID
    buyer: TestUser
    admin: TestUser
    analyst: TestUser


@pytest.fixture(scope="module")
def world(core_dsn: str, core_api: Any, serving_env: Path) -> Iterator[World]:
    """Two sellers with a shop each (both with sales in the mart), a buyer, an admin and an
    analyst, all logged in through the core API; the serving API on the same database.
    Every other mart a report reads exists, empty (tests/serving_api/report_marts.py)."""
    from fastapi.testclient import TestClient

    from serving_api.main import create_app

    seller_a, _, shop_a = make_seller_with_shop(core_api)
    seller_b, _, shop_b = make_seller_with_shop(core_api)
    people = {role: make_user(core_api, role) for role in ("buyer", "admin", "analyst")}
    with TestClient(create_app(core_dsn)) as serving:
        create_shop_metric_daily([day_row(shop_a, "2024-05-01", "100.00"),
                                  day_row(shop_a, "2024-05-02", "50.50"),
                                  day_row(shop_b, "2024-05-01", "999.99")])
        create_empty_marts()
        yield World(core=core_api, serving=serving, seller_a=seller_a, shop_a=shop_a,
                    seller_b=seller_b, shop_b=shop_b, **people)
