"""`make demo`: seed a small Bishkek marketplace, ring up POS sales, land and build them
through Dagster, and print one seller's report from the serving API."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import dagster as dg
import httpx
from rich.console import Console
from rich.table import Table

from infra.settings import get_settings
from marketplace_core.db import transaction
from marketplace_core.migrate import apply_migrations
from marketplace_core.seed import seed_demo_marketplace
from orchestration.definitions import defs
from pos_producer.cli import ring_up_demo_sales

console = Console()


def main() -> None:
    s = get_settings()
    t0 = time.monotonic()
    console.rule("[bold]Bishkek marketplace: POS sale → seller report")
    console.print("[cyan]1/4[/] seeding shops, products and terminals in PostgreSQL")
    apply_migrations()
    with transaction() as conn:
        summary = seed_demo_marketplace(conn)
    console.print(f"    {len(summary.shops)} shops, {len(summary.devices)} POS terminals")

    console.print("[cyan]2/4[/] ringing up 300 receipts on the terminals → Kafka (Avro)")
    # Each terminal records its receipts in its SQLite outbox, then delivers them.
    sales = ring_up_demo_sales(summary, count=300, seed=int(time.time()))

    console.print("[cyan]3/4[/] Dagster: land Kafka → Delta (Spark), then dbt build (ClickHouse)")
    job = defs.resolve_job_def("sales_refresh")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    if not result.success:
        raise SystemExit("the refresh job failed; see the log above")

    console.print("[cyan]4/4[/] the seller's report from the serving API")
    shop = max(summary.shops, key=lambda sh: sum(1 for x in sales if x.shop_id == sh.id))
    today = dt.datetime.now().date()
    url = f"{s.serving_api_url}/analytics/shops/{shop.id}/sales"
    params = {"from": str(today - dt.timedelta(days=3)), "to": str(today + dt.timedelta(days=1))}
    report = httpx.get(url, params=params, timeout=30).raise_for_status().json()
    table = Table(title=f"{shop.name} ({shop.market}) — daily POS sales, KGS")
    for col in ("date", "revenue", "receipts", "units"):
        table.add_column(col, justify="right")
    for d in report["days"]:
        table.add_row(d["date"], d["revenue"], str(d["receipts"]), str(d["units"]))
    t = report["totals"]
    table.add_row("total", t["revenue"], str(t["receipts"]), str(t["units"]), style="bold")
    console.print(table)
    sent = sum((x.total or Decimal("0.00") for x in sales if x.shop_id == shop.id),
               Decimal("0.00"))
    console.print(f"    sent to this shop in this run: {sent} KGS "
                  "(the report also counts earlier runs)")
    console.rule(f"done in {time.monotonic() - t0:.0f}s")
    console.print(f"  report JSON   {url}?from={params['from']}&to={params['to']}")
    console.print(f"  report CSV    {url}?from={params['from']}&to={params['to']}&format=csv")
    console.print(f"  API docs      {s.serving_api_url}/docs")
    console.print(f"  core API docs {s.core_api_url}/docs  (buyers, sellers, POS terminals)")
    console.print(f"  Dagster       http://{s.bind_host}:{s.dagster_port}")
    console.print(f"  MinIO console http://{s.bind_host}:{s.minio_console_port}"
                  f"  (user {s.s3_access_key})")
    console.print(f"  Registry      {s.schema_registry_url}/subjects")


if __name__ == "__main__":
    main()
