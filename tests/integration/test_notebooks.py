"""The analysts' notebooks on a small world whose answers are known: hand-written marts
in a throw-away embedded warehouse (owned by a real serving API process, read through
POST /analytics/sql with an analyst's token) and small Delta tables written with the
`deltalake` package under a temporary lake prefix on MinIO. The notebooks' own checks run
(warehouse vs lake vs warehouse totals), and their outputs show the expected figures.

The same notebooks also run on the real spine's lake and marts, last in
tests/integration/test_lake_spine.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from infra.settings import REPO_ROOT, get_settings
from marketplace_core.migrate import apply_migrations
from tests.integration.apps import serving_api
from tests.integration.notebooks import analyst_token, run_notebooks

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

D = Decimal
S1, S2, S3 = (str(uuid.UUID(int=i)) for i in (1, 2, 3))
M1, M2 = "merchant-1", "merchant-2"
STATUSES = ("created", "paid", "pickup_overdue", "completed", "cancelled", "expired",
            "refunded")
TODAY = datetime.now(UTC).date()


Z = 1.959963984540054


def _wilson(x: int, n: int) -> tuple[float, float]:
    p, denom = x / n, 1 + Z * Z / n
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    return (p + Z * Z / (2 * n)) / denom - half, (p + Z * Z / (2 * n)) / denom + half


def _readout_sql(db: str) -> list[str]:
    """explore_ranking_v2: control 1 of 2 accounts converted, ctr_x2 2 of 2 (an account
    and a guest session); the lake's exposures below (one account exposed twice)."""
    rows = []
    for arm, x, n in (("control", 1, 2), ("ctr_x2", 2, 2)):
        low, high = _wilson(x, n)
        if arm == "control":
            diff = "NULL, NULL, NULL"
        else:
            se = math.sqrt(0.5 * 0.5 / 2)  # p(1-p)/n of ctr_x2 is 0
            diff = f"{x / n - 0.5!r}, {x / n - 0.5 - Z * se!r}, {x / n - 0.5 + Z * se!r}"
        rows.append(f"('explore_ranking_v2', '{arm}', {int(arm == 'control')}, {n}, {x}, 4, "
                    f"{x / n!r}, {low!r}, {high!r}, 0.5, {diff}, '2024-02-10 00:00:00')")
    return [
        f"CREATE TABLE `{db}`.experiment_readout (experiment_key String, arm String, "
        "is_control Bool, exposed_units UInt64, converted_units UInt64, "
        "experiment_units UInt64, conversion_rate Float64, ci_low Float64, ci_high Float64, "
        "control_rate Nullable(Float64), diff_vs_control Nullable(Float64), "
        "diff_ci_low Nullable(Float64), diff_ci_high Nullable(Float64), "
        "_ingested_through DateTime64(6, 'UTC')) ENGINE = MergeTree "
        "ORDER BY (experiment_key, arm)",
        f"INSERT INTO `{db}`.experiment_readout VALUES {', '.join(rows)}",
    ]


def _marts_sql(db: str) -> list[str]:
    money = ("pos_gross", "pos_discounts", "pos_refunds", "pos_voids", "pos_net",
             "online_gross", "online_refunds", "online_net", "net")
    smd = [f"`{db}`.shop_metric_daily (shop_id String, merchant_id String, date Date, "
           + ", ".join(f"{c} Decimal(18, 2)" for c in money)
           + ", receipts Int64, units Int64, online_orders Int64) "
           "ENGINE = MergeTree ORDER BY (shop_id, date)"]

    def day(shop: str, merchant: str, d: str, pos: str, online: str = "0.00",
            refunds: str = "0.00", receipts: int = 1, orders: int = 0) -> str:
        online_net = D(online) - D(refunds)
        values = {"pos_gross": pos, "pos_net": pos, "online_gross": online,
                  "online_refunds": refunds, "online_net": online_net,
                  "net": D(pos) + online_net}
        cells = ", ".join(f"'{values.get(c, '0.00')}'" for c in money)
        return f"('{shop}', '{merchant}', '{d}', {cells}, {receipts}, {receipts}, {orders})"

    rows = [day(S1, M1, "2024-01-05", "1000.50"),
            day(S1, M1, "2024-02-10", "200.00", online="1999.99", orders=1),
            day(S1, M1, "2024-03-01", "0.00", online="100.00", refunds="100.00", receipts=0,
                orders=1),
            day(S2, M2, "2024-02-03", "350.50"),
            day(S3, M2, "2024-02-04", "0.00", receipts=0),  # not a sale: not active
            day(S3, M2, "2024-04-04", "10.01")]
    funnel_cols = ", ".join(f"{s}_orders UInt64, {s}_amount Decimal(18, 2)" for s in STATUSES)
    # O1 created+paid+completed 1999.99, O2 created+expired 500.00, O3 created+paid+refunded
    funnel = {"created": (3, "2599.99"), "paid": (2, "2099.99"), "completed": (1, "1999.99"),
              "expired": (1, "500.00"), "refunded": (1, "100.00")}
    funnel_row = ", ".join(f"{funnel.get(s, (0, '0.00'))[0]}, '{funnel.get(s, (0, '0.00'))[1]}'"
                           for s in STATUSES)
    return [
        f"CREATE DATABASE IF NOT EXISTS `{db}`",
        f"CREATE TABLE {smd[0]}",
        f"INSERT INTO `{db}`.shop_metric_daily VALUES {', '.join(rows)}",
        f"CREATE TABLE `{db}`.order_funnel_daily (shop_id String, date Date, merchant_id "
        f"String, {funnel_cols}) ENGINE = MergeTree ORDER BY (shop_id, date)",
        f"INSERT INTO `{db}`.order_funnel_daily VALUES ('{S1}', '2024-02-10', '{M1}', "
        f"{funnel_row})",
        f"CREATE TABLE `{db}`.explore_post_scores (post_id String, shop_id Nullable(String), "
        "created_at DateTime64(6, 'UTC'), score Float64, engagement Float64, "
        "freshness Float64, ctr Float64, seller_quality Float64, "
        "computed_at DateTime64(6, 'UTC')) ENGINE = MergeTree ORDER BY post_id",
        f"INSERT INTO `{db}`.explore_post_scores SELECT post_id, '{S1}', now64(6), "
        "engagement + 2 * freshness + 10 * ctr + seller_quality, engagement, freshness, ctr, "
        "seller_quality, now64(6) FROM values('post_id String, engagement Float64, "
        "freshness Float64, ctr Float64, seller_quality Float64', "
        "('p1', 3.5, 0.9, 0.1, 0.7), ('p2', 1.0, 0.5, 0.05, 0.7), ('p3', 0, 0.1, 0.05, 0.4))",
        f"CREATE TABLE `{db}`.post_metric_daily (post_id String, date Date, "
        "shop_id Nullable(String), impressions UInt64, clicks UInt64, likes UInt64, "
        "saves UInt64, shares UInt64, comments UInt64) ENGINE = MergeTree ORDER BY post_id",
        f"INSERT INTO `{db}`.post_metric_daily VALUES ('p1', '{TODAY}', '{S1}', 100, 9, 5, 1, "
        f"1, 0), ('p2', '{TODAY - timedelta(days=1)}', '{S1}', 40, 1, 1, 0, 0, 0)",
        *_readout_sql(db),
    ]


def _build_warehouse(path: Path, db: str) -> None:
    """The marts, written by a child process: this one must not bind a warehouse dir."""
    code = ("import json, sys, clickhouse_connect\n"
            "c = clickhouse_connect.get_client(interface='chdb', path=sys.argv[1])\n"
            "for s in json.loads(sys.argv[2]):\n    c.command(s)\nc.close()\n")
    done = subprocess.run([sys.executable, "-c", code, str(path), json.dumps(_marts_sql(db))],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _write_lake(prefix: str) -> None:
    s = get_settings()
    options = {"AWS_ENDPOINT_URL": s.s3_endpoint_url, "AWS_ACCESS_KEY_ID": s.s3_access_key,
               "AWS_SECRET_ACCESS_KEY": s.s3_secret_key, "AWS_REGION": s.s3_region,
               "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    root = f"s3://{s.lake_bucket}/{prefix}/silver"
    money = pl.Decimal(12, 2)
    shops = pl.DataFrame({"shop_id": [S1, S2, S3], "merchant_id": [M1, M2, M2],
                          "name": ["Kiyim", "Tuz", "Nan"], "market": ["Dordoi", "Osh bazaar", None],
                          "occurred_at": [_ts("2024-01-01T00:00:00")] * 3})
    orders = pl.DataFrame({
        "order_id": ["o1", "o1", "o1", "o1", "o2", "o2", "o3", "o3", "o3"],
        "event_type": ["order.created", "order.paid", "order.paid", "order.completed",
                       "order.created", "order.expired", "order.created", "order.paid",
                       "order.refunded"],  # o1's paid event delivered twice
        "total": [D("1999.99")] * 4 + [D("500.00")] * 2 + [D("100.00")] * 3,
        "occurred_at": [_ts(f"2024-02-10T0{i}:00:00") for i in range(9)],
    }, schema_overrides={"total": money})
    posts = pl.DataFrame({"post_id": ["p1", "p2", "p3", "p4"], "shop_id": [S1] * 4,
                          "occurred_at": [_ts("2024-02-01T00:00:00")] * 4})
    exposures = pl.DataFrame({  # u1 exposed twice (two API processes): one unit
        "experiment_key": ["explore_ranking_v2"] * 5,
        "arm": ["control", "control", "control", "ctr_x2", "ctr_x2"],
        "unit_type": ["user", "user", "user", "user", "session"],
        "user_pseudo_id": ["u1", "u1", "u2", "u3", None],
        "session_id": [None, None, None, None, "g1"],
        "_ingested_at": [_ts("2024-02-09T00:00:00")] * 5})
    for path, frame in ((f"{root}/core_shops_current", shops),
                        (f"{root}/core_orders", orders),
                        (f"{root}/social_posts_current", posts),
                        (f"{root}/experiments_exposures", exposures)):
        frame.write_delta(path, mode="overwrite", storage_options=options)


@pytest.fixture(scope="module")
def small_world(make_database: Callable[[], str],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    dsn = make_database()
    apply_migrations(dsn)
    warehouse = tmp_path_factory.mktemp("nb-warehouse")
    _build_warehouse(warehouse, get_settings().warehouse_database)
    prefix = f"test/notebooks-{uuid.uuid4().hex[:8]}"
    _write_lake(prefix)
    env = {"POSTGRES_DSN": dsn, "WAREHOUSE_PATH": str(warehouse), "LAKE_PREFIX": prefix}
    try:
        with serving_api(env, tmp_path_factory.mktemp("nb-logs") / "serving-api.log") as url:
            yield {"SERVING_API_URL": url, "ANALYST_TOKEN": analyst_token(dsn),
                   "LAKE_PREFIX": prefix}
    finally:
        from tests.integration.test_lake_spine import _delete_prefix

        _delete_prefix(prefix)


def test_notebooks_on_a_small_known_world(small_world: dict[str, str],
                                          tmp_path: Path) -> None:
    out: dict[str, Any] = run_notebooks(small_world, tmp_path)
    assert set(out) == {"seller_cohort_retention", "pos_online_mix_by_market",
                        "order_funnel", "explore_ranking_readout", "experiment_readout"}
    # M1 from 2024-01 (active in months 0, 1, 2), M2 from 2024-02; the 0-receipt day of
    # S3 is not a sale
    assert "2 sellers in 2 cohorts; net 3561.00 KGS" in out["seller_cohort_retention"]
    assert ("till 1561.01 + online 1999.99 = 3561.00 KGS over 3 markets"
            in out["pos_online_mix_by_market"])
    assert "3 created, 2 paid (2099.99 KGS)" in out["order_funnel"]
    assert "3 ranked posts, all in the lake" in out["explore_ranking_readout"]
    readout = out["experiment_readout"]
    assert "explore_ranking_v2: 4 units" in readout
    assert "control    1/2 = 50.0 %" in readout
    assert "ctr_x2     2/2 = 100.0 %" in readout and "vs control +50.0 pts" in readout
    assert "not different yet" in readout  # 2 units an arm prove nothing
    assert "2 arms, 4 exposed units, the lake agrees" in readout
