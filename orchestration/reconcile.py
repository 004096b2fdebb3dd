"""`make reconcile`: every figure a seller sees, traced back to the core, to the tyiyn.

Per shop and local business day, the same figures are computed independently from each
layer the data passes through, and compared:

    core     PostgreSQL, the truth (marketplace_core.pos.reports / orders.reports)
    kafka    the core's change events on Kafka (core.pos_receipts, core.orders), decoded
    delta    the lake's silver tables (Delta on MinIO, read by ClickHouse's Delta reader)
    mart     the dbt mart `shop_metric_daily` in ClickHouse
    api      the serving API's report (`GET /analytics/shops/{id}/sales`), read with the
             platform's internal credential (`X-Internal-Token`, PLATFORM_INTERNAL_TOKEN
             from the settings), which the serving API lets read every shop

Then the ads: every tyiyn charged to a campaign traced to its billable events
(orchestration/reconcile_ads.py). Prints the tables and exits 1 on any difference (or a
layer that could not be read).

    python -m orchestration.reconcile [--shop UUID] [--from DATE] [--to DATE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table

from infra.settings import get_settings
from orchestration.reconcile_ads import reconcile_ads
from platform_common.money import to_cents_half_even

FIGURES = ("pos_gross", "pos_discounts", "pos_refunds", "pos_voids", "pos_net",
           "online_gross", "online_refunds", "online_net")
LAYERS = ("core", "kafka", "delta", "mart", "api")
ZERO = Decimal("0.00")

Key = tuple[str, dt.date]  # (shop id, local day)
Figures = dict[str, Decimal]
LayerRows = dict[Key, Figures]


def _blank() -> Figures:
    return dict.fromkeys(FIGURES, ZERO)


def _finish(rows: Mapping[Key, Figures]) -> LayerRows:
    out: LayerRows = {}
    for key, f in rows.items():
        f = {k: to_cents_half_even(Decimal(v)) for k, v in f.items()}
        f["pos_net"] = f["pos_gross"] - f["pos_discounts"] - f["pos_refunds"] - f["pos_voids"]
        f["online_net"] = f["online_gross"] - f["online_refunds"]
        out[key] = f
    return out


def _till_effect(kind: str, gross: Decimal, discount: Decimal, voided_kind: str | None,
                 voided_gross: Decimal, voided_discount: Decimal, f: Figures) -> None:
    """The one definition of how a till event counts, shared by the kafka layer."""
    if kind == "sale":
        f["pos_gross"] += gross
        f["pos_discounts"] += discount
    elif kind == "discount":
        f["pos_discounts"] += discount
    elif kind == "refund":
        f["pos_refunds"] += gross - discount
    elif kind == "void":
        sign = {"sale": 1, "refund": -1}.get(voided_kind or "", 0)
        f["pos_voids"] += sign * (voided_gross - voided_discount)


# --- layers ----------------------------------------------------------------------------------

def core_shop_ids() -> set[str]:
    """Every shop this core knows. The lake and Kafka may also hold shops of other core
    databases that share the broker (the test suite's throwaway databases do); those are
    outside this core's truth and are counted apart, not compared."""
    from marketplace_core.catalog.service import list_shops
    from marketplace_core.db import connect

    with connect() as conn:
        return {str(s.id) for s in list_shops(conn)}


def from_core(shop: UUID | None) -> LayerRows:
    from marketplace_core.db import connect
    from marketplace_core.orders.reports import daily_online_figures
    from marketplace_core.pos.reports import daily_till_figures

    tz = get_settings().timezone
    rows: dict[Key, Figures] = defaultdict(_blank)
    with connect() as conn:
        for t in daily_till_figures(conn, tz, shop):
            f = rows[(str(t.shop_id), t.day)]
            f["pos_gross"], f["pos_discounts"] = t.gross, t.discounts
            f["pos_refunds"], f["pos_voids"] = t.refunds, t.voids
        for o in daily_online_figures(conn, tz, shop):
            f = rows[(str(o.shop_id), o.day)]
            f["online_gross"], f["online_refunds"] = o.gross, o.refunds
    return _finish(rows)


def read_topic(topic: str) -> list[dict[str, Any]]:
    """Every committed record of a topic, decoded with its writer schema, deduplicated on
    event_id (a reader must dedupe: the outbox guarantees at-least-once on the wire)."""
    import fastavro
    from confluent_kafka import Consumer, TopicPartition

    from schemas.registry import registry_client

    s = get_settings()
    consumer = Consumer({"bootstrap.servers": s.kafka_bootstrap_servers,
                         "group.id": "reconcile", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in parts}
        todo = {p for p, (lo, hi) in ends.items() if hi > lo}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in todo])
        schemas: dict[int, Any] = {}
        seen: dict[str, dict[str, Any]] = {}
        idle = 0
        while todo and idle < 3:  # the end: every partition at its high watermark, or
            batch = consumer.consume(1000, timeout=1)  # nothing more is committed
            idle = 0 if batch else idle + 1
            for msg in batch:
                if msg.error():
                    raise RuntimeError(str(msg.error()))
                value = msg.value() or b""
                sid = int.from_bytes(value[1:5], "big")
                if sid not in schemas:
                    schemas[sid] = fastavro.parse_schema(
                        json.loads(registry_client().get_schema(sid).schema_str or "null"))
                record = fastavro.schemaless_reader(io.BytesIO(value[5:]), schemas[sid], None)
                assert isinstance(record, dict)
                seen.setdefault(str(record["event_id"]), record)
            for p in list(todo):
                if consumer.position([TopicPartition(topic, p)])[0].offset >= ends[p][1]:
                    todo.discard(p)
        return list(seen.values())
    finally:
        consumer.close()


def from_kafka(shop: UUID | None) -> LayerRows:
    from schemas.topics import CORE_ORDERS, CORE_POS_RECEIPTS

    tz = ZoneInfo(get_settings().timezone)
    rows: dict[Key, Figures] = defaultdict(_blank)
    for r in read_topic(CORE_POS_RECEIPTS.name):
        if shop and str(r["shop_id"]) != str(shop):
            continue
        f = rows[(str(r["shop_id"]), r["event_time"].astimezone(tz).date())]
        _till_effect(r["till_event_type"], r["gross_amount"], r["discount_amount"],
                     r.get("voided_event_type"), r.get("voided_gross_amount") or ZERO,
                     r.get("voided_discount_amount") or ZERO, f)
    latest: dict[str, dict[str, Any]] = {}
    for r in read_topic(CORE_ORDERS.name):
        if shop and str(r["shop_id"]) != str(shop):
            continue
        cur = latest.get(str(r["order_id"]))
        if cur is None or r["occurred_at"] > cur["occurred_at"]:
            latest[str(r["order_id"])] = r
    for o in latest.values():
        if o.get("paid_at"):
            f = rows[(str(o["shop_id"]), o["paid_at"].astimezone(tz).date())]
            f["online_gross"] += o["total"]
        if o.get("refunded_at"):
            f = rows[(str(o["shop_id"]), o["refunded_at"].astimezone(tz).date())]
            f["online_refunds"] += o["total"]
    return _finish(rows)


def from_delta(shop: UUID | None) -> LayerRows:
    from warehouse.lake import query

    tz = get_settings().timezone
    where = "WHERE shop_id = {shop:String}" if shop else ""
    params = {"shop": str(shop)} if shop else None
    till = query(f"""
        SELECT shop_id, toDate(event_time, '{tz}') AS day,
          sumIf(gross_amount, till_event_type = 'sale'),
          sumIf(discount_amount, till_event_type IN ('sale', 'discount')),
          sumIf(gross_amount - discount_amount, till_event_type = 'refund'),
          sumIf(multiIf(voided_event_type = 'sale', 1, voided_event_type = 'refund', -1, 0)
                * (ifNull(voided_gross_amount, 0) - ifNull(voided_discount_amount, 0)),
                till_event_type = 'void')
        FROM {{silver:core_pos_receipts}} {where} GROUP BY shop_id, day""", params)
    rows: dict[Key, Figures] = defaultdict(_blank)
    for shop_id, day, gross, disc, refunds, voids in till:
        f = rows[(str(shop_id), day)]
        # sumIf over a Nullable column is NULL when no row matched (a day of voids only)
        f["pos_gross"], f["pos_discounts"], f["pos_refunds"], f["pos_voids"] = (
            gross or ZERO, disc or ZERO, refunds or ZERO, voids or ZERO)
    orders = query(f"""
        SELECT shop_id, paid_at, refunded_at, total FROM {{silver:core_orders}} {where}
        ORDER BY occurred_at DESC, _offset DESC LIMIT 1 BY order_id""", params)
    for shop_id, paid_at, refunded_at, total in orders:
        if paid_at is not None:
            rows[(str(shop_id), _local_day(paid_at))]["online_gross"] += Decimal(total)
        if refunded_at is not None:
            rows[(str(shop_id), _local_day(refunded_at))]["online_refunds"] += Decimal(total)
    return _finish(rows)


def _local_day(ts: dt.datetime) -> dt.date:
    ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(ZoneInfo(get_settings().timezone)).date()


def from_mart(shop: UUID | None) -> LayerRows:
    s = get_settings()
    r = httpx.get(f"{s.serving_api_url}/internal/marts/shop_metric_daily",
                  params={"shop_id": str(shop)} if shop else None,
                  headers={"X-Internal-Token": s.internal_token}, timeout=120)
    r.raise_for_status()
    return _finish({(row["shop_id"], dt.date.fromisoformat(row["date"])):
                    {k: Decimal(row[k]) for k in FIGURES} for row in r.json()["rows"]})


def from_api(keys: Iterable[Key]) -> LayerRows:
    s = get_settings()
    by_shop: dict[str, list[dt.date]] = defaultdict(list)
    for shop_id, day in keys:
        by_shop[shop_id].append(day)
    rows: dict[Key, Figures] = {}
    for shop_id, days in by_shop.items():
        lo, hi = min(days), max(days)
        while lo <= hi:  # the API serves at most a year per request
            end = min(hi, lo + dt.timedelta(days=365))
            r = httpx.get(f"{s.serving_api_url}/analytics/shops/{shop_id}/sales",
                          params={"from": str(lo), "to": str(end), "page_size": 500},
                          headers={"X-Internal-Token": s.internal_token}, timeout=60)
            r.raise_for_status()
            for d in r.json()["rows"]:
                rows[(shop_id, dt.date.fromisoformat(d["date"]))] = {
                    k: Decimal(d[k]) for k in FIGURES}
            lo = end + dt.timedelta(days=1)
    return _finish(rows)


# --- comparing ---------------------------------------------------------------------------------

def differences(layers: Mapping[str, LayerRows]) -> list[tuple[Key, str, str, Decimal, Decimal]]:
    """(key, layer, figure, core value, layer value) for every disagreement with core."""
    core = layers["core"]
    keys = set().union(*(set(v) for v in layers.values()))
    out = []
    for key in sorted(keys):
        want = core.get(key, _blank())
        for layer, rows in layers.items():
            got = rows.get(key, _blank())
            for fig in FIGURES:
                if want[fig] != got[fig]:
                    out.append((key, layer, fig, want[fig], got[fig]))
    return out


def reconcile(shop: UUID | None = None, date_from: dt.date | None = None,
              date_to: dt.date | None = None, console: Console | None = None) -> int:
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    readers: dict[str, Callable[[], LayerRows]] = {
        "core": lambda: from_core(shop), "kafka": lambda: from_kafka(shop),
        "delta": lambda: from_delta(shop), "mart": lambda: from_mart(shop)}
    layers: dict[str, LayerRows] = {}
    failed: list[str] = []
    try:
        ours = core_shop_ids()
    except Exception as exc:
        console.print(f"[red]cannot read the core: {type(exc).__name__}: {exc}")
        return 1
    foreign: set[Key] = set()
    for name, read in readers.items():
        try:
            rows = _in_range(read(), date_from, date_to)
        except Exception as exc:  # a layer that cannot be read is a failed reconciliation
            failed.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        foreign |= {k for k in rows if k[0] not in ours}
        layers[name] = {k: v for k, v in rows.items() if k[0] in ours}
    if "core" not in layers:
        console.print(f"[red]cannot read the core: {failed}")
        return 1
    try:
        layers["api"] = _in_range(from_api(layers["core"]), date_from, date_to)
    except Exception as exc:
        failed.append(f"api: {type(exc).__name__}: {str(exc)[:300]}")
    diffs = differences(layers)
    _print(console, layers, diffs)
    for f in failed:
        console.print(f"[red]layer not readable: {f}")
    if foreign:
        console.print(f"[yellow]{len(foreign)} shop-day(s) in kafka/lake/mart belong to shops "
                      "this core does not know (another core database on the same broker, "
                      "such as the test suite's); not compared")
    if diffs or failed:
        console.print(f"[red bold]{len(diffs)} difference(s), {len(failed)} unreadable layer(s)")
        return 1
    console.print(f"[green bold]no difference: {len(layers['core'])} shop-day(s) agree across "
                  f"{', '.join(layers)}, to the tyiyn")
    ads = reconcile_ads(console)
    if ads:
        console.print(f"[red bold]ads: {'unreadable' if ads < 0 else f'{ads} difference(s)'}")
        return 1
    console.print("[green bold]ads: every charged tyiyn agrees with its billable events")
    return 0


def _in_range(rows: LayerRows, lo: dt.date | None, hi: dt.date | None) -> LayerRows:
    return {k: v for k, v in rows.items()
            if (lo is None or k[1] >= lo) and (hi is None or k[1] <= hi)}


def _print(console: Console, layers: Mapping[str, LayerRows],
           diffs: list[tuple[Key, str, str, Decimal, Decimal]]) -> None:
    bad = {(k, layer) for k, layer, *_ in diffs}
    table = Table(title="Seller figures per shop and day, KGS: net (POS + online) by layer")
    table.add_column("shop")
    table.add_column("day")
    for layer in layers:
        table.add_column(layer, justify="right")
    keys = sorted(set().union(*(set(v) for v in layers.values())))
    for key in keys:
        cells = []
        for layer, rows in layers.items():
            f = rows.get(key)
            text = "—" if f is None else f"{f['pos_net'] + f['online_net']:.2f}"
            cells.append(f"[red]{text}[/]" if (key, layer) in bad else text)
        table.add_row(key[0][:8], str(key[1]), *cells)
    console.print(table)
    for key, layer, fig, want, got in diffs[:50]:
        console.print(f"[red]  {key[0]} {key[1]} {layer}.{fig}: core {want} != {got}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shop", type=UUID)
    parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat)
    parser.add_argument("--to", dest="date_to", type=dt.date.fromisoformat)
    args = parser.parse_args(argv)
    raise SystemExit(reconcile(args.shop, args.date_from, args.date_to))


if __name__ == "__main__":
    main()
