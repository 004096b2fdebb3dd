"""Run the core benchmarks: `python -m bench.run [--quick] [--keep] [names...]`.

Names: catalog_card, catalog_search, outbox_lag, pos_producer_throughput, pos_sale_to_stock,
lake_landing_throughput, lake_marts_refresh, serving_report_latency, lake_freshness,
events_intake, ranking_refresh, social_feeds, dashboard_paint, exports, ad_billing, chat
(default: all). One throw-away database with the 100k-variant catalog serves every
benchmark of the run (pos_producer_throughput, social_feeds, dashboard_paint, exports, chat
and the lake ones need no catalog; each lake benchmark, social_feeds, dashboard_paint,
exports and chat runs in a process of its own: one JVM, one chdb engine, its own API
processes); each benchmark writes
`bench/results/<name>.json` (see bench/results.py for the shape) and the run ends with a
summary table. `--quick` is a smoke check (short runs); the figures worth quoting come
from a full run. Performance targets are reported here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.catalog_data import CatalogInfo, bench_database, load_catalog
from bench.core_catalog import LoadParams, bench_card, bench_search
from bench.core_outbox import OutboxParams, baseline_tree, bench_outbox
from bench.events_intake import IntakeParams, bench_events_intake
from bench.lake_common import run_in_subprocess
from bench.lake_marts import REFRESH, SERVING
from bench.loadgen import build_loadgen, core_api
from bench.pos_ingest import SaleToStockParams, bench_sale_to_stock
from bench.pos_producer import ProducerParams, bench_pos_producer
from bench.results import RESULTS_DIR, Result, postgres_version

NAMES = ("catalog_card", "catalog_search", "outbox_lag", "pos_producer_throughput",
         "pos_sale_to_stock", "lake_landing_throughput", "lake_marts_refresh",
         "serving_report_latency", "lake_freshness", "events_intake", "ranking_refresh",
         "social_feeds", "dashboard_paint", "exports", "ad_billing", "chat")
LAKE = {"lake_landing_throughput", "lake_marts_refresh", "serving_report_latency",
        "lake_freshness", "ranking_refresh"}
# Each makes a database of its own (bench/social_feeds.py), in a process of its own.
NO_CATALOG = {"pos_producer_throughput", "events_intake", "social_feeds",
              "dashboard_paint", "exports", "ad_billing", "chat"} | LAKE


def _lake(names: list[str], args: argparse.Namespace) -> list[Result]:
    """The lake benchmarks, each in its own process (bench/lake_*.py); in this order so
    that lake_freshness can add the refresh time lake_marts_refresh just measured."""
    common = [*(["--quick"] if args.quick else []),
              *(["--runs", str(args.runs)] if args.runs else [])]
    out: list[Result] = []
    if "lake_landing_throughput" in names:
        print("==> lake_landing_throughput", flush=True)
        extra = ["--events", str(args.lake_events)] if args.lake_events else []
        out += run_in_subprocess("bench.lake_landing", [*common, *extra],
                                 ["lake_landing_throughput"], args.results_dir)
    marts = [n for n in ("lake_marts_refresh", "serving_report_latency") if n in names]
    if marts:
        print(f"==> {' + '.join(marts)}", flush=True)
        extra = ["--events", str(args.marts_events)] if args.marts_events else []
        if "serving_report_latency" not in names:
            extra.append("--no-serve")
        out += [r for r in run_in_subprocess("bench.lake_marts", [*common, *extra],
                                             [REFRESH, SERVING], args.results_dir)
                if r.name in marts]
    if "lake_freshness" in names:
        print("==> lake_freshness", flush=True)
        extra = ["--seconds", str(args.seconds)] if args.seconds else []
        out += run_in_subprocess("bench.lake_freshness", [*common, *extra],
                                 ["lake_freshness"], args.results_dir)
    if "ranking_refresh" in names:
        print("==> ranking_refresh", flush=True)
        extra = ["--events", str(args.ranking_events)] if args.ranking_events else []
        out += run_in_subprocess("bench.ranking_refresh", [*common, *extra],
                                 ["ranking_refresh"], args.results_dir)
    return out


def _social(names: list[str], args: argparse.Namespace) -> list[Result]:
    """social_feeds in its own process (its own database, API processes and snapshots)."""
    if "social_feeds" not in names:
        return []
    print("==> social_feeds", flush=True)
    extra = [*(["--quick"] if args.quick else []),
             *(["--runs", str(args.runs)] if args.runs else []),
             *(["--seconds", str(args.seconds)] if args.seconds else []),
             *(["--posts", str(args.feeds_posts)] if args.feeds_posts else []),
             "--rate", str(args.feeds_rate)]
    return run_in_subprocess("bench.social_feeds", extra, ["social_feeds"], args.results_dir)


def _dashboard(names: list[str], args: argparse.Namespace) -> list[Result]:
    """dashboard_paint in its own process (its own database, APIs, warehouse, Chromium)."""
    if "dashboard_paint" not in names:
        return []
    print("==> dashboard_paint", flush=True)
    extra = [*(["--quick"] if args.quick else []),
             *(["--runs", str(args.runs)] if args.runs else [])]
    return run_in_subprocess("bench.dashboard_paint", extra, ["dashboard_paint"],
                             args.results_dir)


def _exports(names: list[str], args: argparse.Namespace) -> list[Result]:
    """exports in its own process (its own warehouse, API process and MinIO prefix)."""
    if "exports" not in names:
        return []
    print("==> exports", flush=True)
    extra = [*(["--quick"] if args.quick else []),
             *(["--runs", str(args.runs)] if args.runs else []),
             *(["--rows", str(args.export_rows)] if args.export_rows else [])]
    return run_in_subprocess("bench.exports", extra, ["exports"], args.results_dir)


def _ad_billing(names: list[str], args: argparse.Namespace) -> list[Result]:
    """ad_billing in its own process (its own database, lake prefix and warehouse)."""
    if "ad_billing" not in names:
        return []
    print("==> ad_billing", flush=True)
    extra = [*(["--quick"] if args.quick else []),
             *(["--runs", str(args.runs)] if args.runs else [])]
    return run_in_subprocess("bench.ad_billing", extra, ["ad_billing"], args.results_dir)


def _chat(names: list[str], args: argparse.Namespace) -> list[Result]:
    """chat in its own process (its own database, API processes and 1,000 sockets)."""
    if "chat" not in names:
        return []
    print("==> chat", flush=True)
    extra = [*(["--quick"] if args.quick else []),
             *(["--runs", str(args.runs)] if args.runs else []),
             *(["--seconds", str(args.seconds)] if args.seconds else [])]
    return run_in_subprocess("bench.chat", extra, ["chat"], args.results_dir)


def _pos_params(args: argparse.Namespace) -> tuple[ProducerParams, SaleToStockParams]:
    runs = args.runs or 3
    events = args.pos_events or (2000 if args.quick else 20_000)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    return (ProducerParams(runs, events),
            SaleToStockParams(1 if args.quick and not args.runs else runs, seconds,
                              rate=args.pos_rate))


def _params(args: argparse.Namespace) -> tuple[LoadParams, LoadParams, OutboxParams]:
    runs = args.runs or 3
    card_s = args.seconds or (3.0 if args.quick else 10.0)
    search_s = args.seconds or (3.0 if args.quick else 10.0)
    outbox_s = args.seconds or (5.0 if args.quick else 20.0)
    return (
        LoadParams(runs, card_s, rate=args.card_rate, concurrency=args.concurrency),
        LoadParams(runs, search_s, rate=args.search_rate, concurrency=args.concurrency),
        OutboxParams(runs, outbox_s, rate=args.order_rate,
                     sustained_runs=1 if args.quick else runs,
                     baseline=baseline_tree(args.order_baseline) if args.order_baseline
                     else None),
    )


def _summary(results: list[Result]) -> str:
    lines = [f"{'benchmark':<16} {'measured (median of runs)':<58} {'baseline':<34} met"]
    for r in results:
        m, b = r.median, r.baseline_median
        if r.name.startswith("catalog") and m:
            fixed, top = m["api_rate"], m["api_max"]
            measured = (f"@{r.params['rate']:.0f}/s: {fixed['throughput']:.0f}/s p99"
                        f" {fixed['p99_ms']:.1f}ms | max {top['throughput']:.0f}/s p50"
                        f" {top['p50_ms']:.1f} p99 {top['p99_ms']:.1f}ms")
            base = (f"{b['throughput']:.0f}/s p50 {b['p50_ms']:.1f} p99 {b['p99_ms']:.1f}ms")
        elif r.name == "outbox_lag" and m:
            measured = (f"{m['achieved_rate']}/s of {r.params['rate']:.0f}: lag p50"
                        f" {m['lag_p50_ms']} p99 {m['lag_p99_ms']} ms")
            sustained = m.get("at_sustained_rate")
            if sustained:
                measured += (f" | @{sustained['achieved_rate']}/s p99"
                             f" {sustained['lag_p99_ms']} ms")
            base = (f"ack p99 {b['relay_ack_p99_ms']} | kafka p99"
                    f" {b['kafka_roundtrip_p99_ms']} ms")
        elif r.name == "pos_producer_throughput" and m:
            measured = (f"terminal {m['events_per_s']:.0f} ev/s | record only"
                        f" {m['record_only_events_per_s']:.0f}/s | backlog drain"
                        f" {m['backlog_drain_events_per_s']:.0f}/s")
            base = (f"bare producer {b['events_per_s']:.0f}/s"
                    f" (x{r.ratio.get('terminal_over_bare_producer') or 0:.3f})")
        elif r.name == "events_intake" and m:
            measured = (f"POST /events {m['events_per_s']} ev/s (1 process, batch"
                        f" {r.params['batch']}, p50 {m['batch_latency_p50_ms']} ms)")
            base = (f"bare produce {b['events_per_s']}/s"
                    f" (x{r.ratio.get('api_over_bare_produce') or 0:.3f})")
        elif r.name == "lake_landing_throughput" and m:
            measured = (f"{m['events_per_s']:.0f} ev/s ({r.params.get('events')} events,"
                        f" {m['seconds']}s)")
            base = (f"bare consume+decode {b['bare_decode_events_per_s']:.0f}/s"
                    f" (x{r.ratio.get('landing_over_bare_decode') or 0:.3f})")
        elif r.name == "lake_marts_refresh" and m:
            measured = (f"full build {m['full_build_seconds']}s | +{r.params.get('append_events')}"
                        f" events: refresh {m['incremental_refresh_seconds']}s")
            base = f"lake scan {b['lake_scan_seconds']}s"
        elif r.name == "serving_report_latency" and m:
            first = min(int(k[1:]) for k in m)
            measured = (f"x{first}: API p50 {m[f'x{first}']['p50']} p95"
                        f" {m[f'x{first}']['p95']} ms")
            base = (f"query p95 {b[f'x{first}']['p95']} ms"
                    f" (x{r.ratio.get(f'x{first}_p95_api_over_query')})")
        elif r.name == "lake_freshness" and m:
            measured = (f"event->silver p50 {m['silver_p50_s']} p95 {m['silver_p95_s']} s;"
                        f" +refresh = {m['event_to_report_estimate_p95_s']} s (sum)")
            base = f"bare p95 {b['bare_p95_ms']} ms"
        elif r.name == "ranking_refresh" and m:
            measured = (f"full {m['full_build_seconds']}s | +{r.params.get('append_events')}"
                        f" events: {m['refresh_seconds']}s (models"
                        f" {m['refresh_models_seconds']}s)")
            base = (f"lake scan {b['lake_scan_seconds']}s"
                    f" (x{r.ratio.get('refresh_over_lake_scan')})")
        elif r.name == "social_feeds" and m:
            ex, fo = m["explore"], m["following"]
            measured = (f"@{r.params['rate']:.0f}/s explore {ex['throughput']:.0f}/s p99"
                        f" {ex['p99']:.0f}ms | following {fo['throughput']:.0f}/s p99"
                        f" {fo['p99']:.0f}ms")
            base = (f"SQL p99 {b['explore']['p99']:.0f} / {b['following']['p99']:.0f} ms")
        elif r.name == "exports" and m:
            x, c = m["xlsx"], m["csv"]
            measured = (f"{r.params['rows']} rows: xlsx {x['seconds']}s {x['peak_rss_mb']}MB"
                        f" | csv {c['seconds']}s {c['peak_rss_mb']}MB")
            base = (f"SELECT rows {b['select_rows_seconds']}s"
                    f" (xlsx x{r.ratio.get('xlsx_over_select_rows')})")
        elif r.name == "pos_sale_to_stock" and m:
            measured = (f"@{r.params['rate']:.0f}/s: API p50 {m['p50_ms']:.0f} p99"
                        f" {m['p99_ms']:.0f} max {m['max_ms']:.0f} ms")
            base = f"DB p50 {b['db_p50_ms']:.0f} p99 {b['db_p99_ms']:.0f} ms"
        elif r.name == "dashboard_paint" and m:
            measured = (f"paint 30d {m['30d']['paint_ms']:.0f} ms, 366d"
                        f" {m['366d']['paint_ms']:.0f} ms (FCP {m['30d']['fcp_ms']:.0f} ms)")
            base = (f"API {b['30d']['api_ms']:.0f} / {b['366d']['api_ms']:.0f} ms"
                    f" (x{r.ratio.get('paint_over_api_30d')})")
        elif r.name == "chat" and m:
            measured = (f"{r.params['connections']} sockets @{r.params['rate']:.0f}/s: to the"
                        f" socket p50 {m['message_to_socket_p50_ms']:.0f} p99"
                        f" {m['message_to_socket_p99_ms']:.0f} ms")
            base = (f"REST send p99 {b['rest_send_p99_ms']:.0f} ms"
                    f" (x{r.ratio.get('socket_p99_over_rest_p99')})")
        else:
            measured, base = "; ".join(r.notes) or "no data", ""
        lines.append(f"{r.name:<16} {measured:<58} {base:<34} {r.targets.get('met')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"benchmarks to run: {', '.join(NAMES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke check)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=None, help="runs per benchmark (3)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per run")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="closed-loop clients (API) and threads (baseline)")
    parser.add_argument("--card-rate", type=float, default=1000.0)
    parser.add_argument("--search-rate", type=float, default=50.0)  # the spec's load
    parser.add_argument("--order-rate", type=float, default=500.0)
    parser.add_argument("--order-baseline", default=None, metavar="REV",
                        help="outbox_lag: also place the orders with this git revision's code"
                             " (interleaved runs; e.g. 2ffc39a, before issue 11 §4)")
    parser.add_argument("--pos-events", type=int, default=None,
                        help="sales per pos_producer_throughput run (20000)")
    parser.add_argument("--pos-rate", type=float, default=20.0,
                        help="sales per second in pos_sale_to_stock")
    parser.add_argument("--lake-events", type=int, default=None,
                        help="events per lake_landing_throughput run (200000; quick 20000)")
    parser.add_argument("--marts-events", type=int, default=None,
                        help="silver events under lake_marts_refresh (10M; quick 200000)")
    parser.add_argument("--intake-events", type=int, default=None,
                        help="events per events_intake run (200000; quick 20000)")
    parser.add_argument("--ranking-events", type=int, default=None,
                        help="silver behavioural events under ranking_refresh (10M; quick 200k)")
    parser.add_argument("--feeds-posts", type=int, default=None,
                        help="posts and score rows under social_feeds (1M; quick 20k)")
    parser.add_argument("--feeds-rate", type=float, default=500.0,
                        help="requests per second in social_feeds")
    parser.add_argument("--export-rows", type=int, default=None,
                        help="rows of the exported report under exports (1M; quick 20k)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    names = [n for n in NAMES if n in args.names] if args.names else list(NAMES)
    card, search, outbox = _params(args)
    pos_producer, sale_to_stock = _pos_params(args)
    needs_catalog = any(n not in NO_CATALOG for n in names)

    started = time.perf_counter()
    build_loadgen()
    results: list[Result] = []
    with bench_database(keep=args.keep) as dsn:
        info = CatalogInfo()
        if needs_catalog:
            print(f"==> loading {args.variants} variants", flush=True)
            info = load_catalog(dsn, variants=args.variants)
            print(f"    {len(info.product_ids)} products, {info.variants} variants,"
                  f" {len(info.shop_ids)} shops in {info.load_seconds:.1f}s", flush=True)
        catalog_names = [n for n in names if n.startswith("catalog")]
        if catalog_names:
            with core_api(dsn) as base_url:
                for name in catalog_names:
                    print(f"==> {name}", flush=True)
                    if name == "catalog_card":
                        results.append(bench_card(dsn, base_url, info, card))
                    else:
                        results.append(bench_search(dsn, base_url, info, search))
        if "outbox_lag" in names:
            print("==> outbox_lag", flush=True)
            results.append(bench_outbox(dsn, info, outbox))
        if "pos_producer_throughput" in names:
            print("==> pos_producer_throughput", flush=True)
            results.append(bench_pos_producer(pos_producer))
        if "pos_sale_to_stock" in names:
            print("==> pos_sale_to_stock", flush=True)
            results.append(bench_sale_to_stock(dsn, info, sale_to_stock))
        if "events_intake" in names:
            print("==> events_intake", flush=True)
            results.append(bench_events_intake(dsn, IntakeParams(
                runs=args.runs or 3,
                events=args.intake_events or (20_000 if args.quick else 200_000))))
        results += _lake(names, args)
        results += _social(names, args)
        results += _dashboard(names, args)
        results += _exports(names, args)
        results += _ad_billing(names, args)
        results += _chat(names, args)
        pg = postgres_version(dsn)
    for r in results:
        r.machine["postgres"] = pg
        if r.name not in NO_CATALOG:
            r.params["catalog_load_seconds"] = round(info.load_seconds, 1)
        r.params["quick"] = args.quick
        path = r.write(args.results_dir)
        print(f"    wrote {path}", flush=True)
    print()
    print(_summary(results))
    print(f"\n(total {time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
