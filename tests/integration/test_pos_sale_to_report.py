"""The first slice end to end, on the real services: a POS sale on Kafka (Avro, registry)
→ Spark lands it in Delta on MinIO → dbt builds the mart in ClickHouse → the serving API.

Exact totals are asserted after a duplicate delivery, a corrupt record, and a landing job
killed mid-stream and restarted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from infra.settings import REPO_ROOT, get_settings
from pos_producer.events import Item, PosSale
from pos_producer.producer import PosSaleProducer
from tests.integration.apps import serving_api

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

BISHKEK = ZoneInfo("Asia/Bishkek")


@pytest.fixture(scope="module")
def isolated_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Own bronze table, checkpoint and warehouse for this module; the topic is shared."""
    run = uuid.uuid4().hex[:10]
    env = {
        "LAKE_POS_SALES_PATH": f"test/{run}/bronze/pos_sales",
        "WAREHOUSE_PATH": str(tmp_path_factory.mktemp("warehouse")),
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    yield env
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


def _sales(shop: uuid.UUID, n: int, start: int, when: dt.datetime) -> list[PosSale]:
    variants = [uuid.uuid4() for _ in range(3)]
    prices = [Decimal("1499.00"), Decimal("350.50"), Decimal("12900.99")]
    return [
        PosSale(
            device_id=f"POS-T{shop.hex[:6]}",
            shop_id=shop,
            receipt_number=f"R-{start + i:05d}",
            items=tuple(
                Item(variant_id=variants[j], qty=1 + (i + j) % 3, unit_price=prices[j])
                for j in range(1 + i % 3)
            ),
            event_time=when + dt.timedelta(minutes=i),
        )
        for i in range(n)
    ]


def _expected(sales: list[PosSale]) -> tuple[Decimal, int, int]:
    return (
        sum((s.total or Decimal("0.00") for s in sales), Decimal("0.00")),
        len(sales),
        sum(i.qty for s in sales for i in s.items),
    )


def _land(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.bronze.pos_sales", "--available-now"],
        cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _refresh(url: str) -> dict:  # type: ignore[type-arg]
    r = httpx.post(
        f"{url}/internal/refresh", json={"args": ["build"]},
        headers={"X-Internal-Token": get_settings().internal_token}, timeout=600,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"], body
    return body


def _report(url: str, shop: uuid.UUID, day: dt.date, fmt: str = "json") -> httpx.Response:
    return httpx.get(
        f"{url}/analytics/shops/{shop}/sales",
        params={"from": str(day), "to": str(day), "format": fmt}, timeout=30,
    )


def test_pos_sales_reach_the_seller_report_exactly_once(
    isolated_lake: dict[str, str], tmp_path: Path
) -> None:
    shop = uuid.uuid4()
    # 10:00 in Bishkek two days ago: the report groups by the shop's local date.
    day = (dt.datetime.now(BISHKEK) - dt.timedelta(days=2)).date()
    when = dt.datetime.combine(day, dt.time(10, 0), tzinfo=BISHKEK)
    first = _sales(shop, 40, 0, when)

    producer = PosSaleProducer()
    for sale in first:
        producer.send(sale)
    producer.send(first[0])  # a duplicate delivery of the same sale (same sale_id)
    producer.send_raw(b"POS-broken", b"\x00\x00\x00\x00\x2a not avro")  # corrupt
    producer.flush()

    _land(isolated_lake)

    with serving_api(isolated_lake, tmp_path / "serving-api.log") as url:
        refresh = _refresh(url)
        assert {n["name"] for n in refresh["nodes"]} >= {"shop_sales_daily"}

        body = _report(url, shop, day).json()
        revenue, receipts, units = _expected(first)
        assert body["totals"] == {"revenue": f"{revenue:.2f}", "receipts": receipts,
                                  "units": units}
        assert body["currency"] == "KGS"
        assert [d["date"] for d in body["days"]] == [str(day)]

        # The landing job, run continuously, is killed mid-stream; a restart lands the rest
        # without writing any Kafka record twice.
        second = _sales(shop, 30, 1000, when + dt.timedelta(hours=3))
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.bronze.pos_sales"],
            cwd=REPO_ROOT, env={**os.environ, **isolated_lake},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # wait until the stream is running
                if "continuously" in line:
                    break
            for sale in second:
                producer.send(sale)
            producer.flush()
            time.sleep(6)  # a trigger is 5 s: let a batch start or finish
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        producer.send(second[-1])  # and one more duplicate after the restart
        producer.flush()
        _land(isolated_lake)

        _refresh(url)
        body = _report(url, shop, day).json()
        revenue, receipts, units = _expected(first + second)
        assert body["totals"] == {"revenue": f"{revenue:.2f}", "receipts": receipts,
                                  "units": units}

        rows = list(csv.DictReader(io.StringIO(_report(url, shop, day, "csv").text)))
        assert rows == [{"date": str(day), "revenue_kgs": f"{revenue:.2f}",
                         "receipts": str(receipts), "units": str(units)}]

        # Bronze holds each Kafka record once: the shop's records are exactly
        # 70 sales + 2 duplicates, at distinct offsets.
        from warehouse.lake import bronze_offsets_for_shop

        offsets = bronze_offsets_for_shop(str(shop))
        assert len(offsets) == len(set(offsets)) == 72


def test_bad_requests_get_stable_codes(isolated_lake: dict[str, str], tmp_path: Path) -> None:
    with serving_api(isolated_lake, tmp_path / "serving-api.log") as url:
        shop = uuid.uuid4()
        r = httpx.get(f"{url}/analytics/shops/not-a-uuid/sales",
                      params={"from": "2026-01-01", "to": "2026-01-02"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
        r = httpx.get(f"{url}/analytics/shops/{shop}/sales",
                      params={"from": "2026-02-01", "to": "2026-01-01"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_DATE_RANGE"
        r = httpx.get(f"{url}/analytics/shops/{shop}/sales", params={"from": "yesterday"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
        r = httpx.post(f"{url}/internal/refresh", json={"args": ["build"]})
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
