"""dashboard_paint: the seller dashboard's first meaningful paint in headless Chromium
against the API time alone for the same requests (issue 10 §4).

`python -m bench.dashboard_paint [--quick] [--runs N] [--results-dir DIR]`
(also `python -m bench.run dashboard_paint`).

Set-up (bench/dashboard_stack.py): a fresh migrated database, the real core API and the
real serving API (uvicorn, one process each) on an embedded warehouse of the benchmark's
own whose `shop_metric_daily` holds 366 days of the measured shop and of `--shops` other
shops (the mart's size, not only the shop's, is what a query scans); Debian's Chromium
(Selenium, /usr/bin/chromedriver) signs in once as the shop's seller with TOTP.

Per run and per range (the page's default 30 days, and the longest the API allows, 366):
* `paint_ms` — the page loaded afresh (`driver.get`, the token already in sessionStorage,
  Chart.js in the browser cache as for a returning seller) until the page's own mark
  `dashboard:meaningful-paint`, set in the frame after the totals, the revenue chart and
  the daily table are on screen; from the navigation's start (performance.timeOrigin);
  `fcp_ms` is Chromium's first-contentful-paint of the same load, `page_api_ms` the span
  of the three API calls inside the page (resource timing);
* `api_ms` (the baseline) — the same three requests the page waits for before that paint
  (`GET /dashboard/config`, `GET /analytics/shops`, the sales report for the range, in
  that order: the page needs each answer before the next), from Python over one
  keep-alive connection, no browser.

`ratio.paint_over_api_<range>` = median paint ÷ median API time: what the browser (HTML,
modules, Chart.js, layout, paint) adds on top of the API.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from bench.catalog_data import bench_database
from bench.dashboard_stack import (
    chromium,
    dashboard_stack,
    make_seller,
    sales_rows,
    sign_in,
    wait_for,
    write_marts,
)
from bench.results import RESULTS_DIR, Result, median_of, postgres_version, ratio
from infra.settings import get_settings

NAME = "dashboard_paint"
SHOP = "Дордой — контейнер 14"
RANGES = {"30d": 30, "366d": 366}

PAGE_TIMINGS = """
const mark = performance.getEntriesByName('dashboard:meaningful-paint')[0];
const data = performance.getEntriesByName('dashboard:sales-data')[0];
const fcp = performance.getEntriesByName('first-contentful-paint')[0];
const nav = performance.getEntriesByType('navigation')[0];
const api = performance.getEntriesByType('resource').filter(
  e => /\\/dashboard\\/config|\\/analytics\\/shops/.test(e.name));
return {paint_ms: mark ? mark.startTime : null, data_ms: data ? data.startTime : null,
        fcp_ms: fcp ? fcp.startTime : null,
        html_ms: nav ? nav.responseEnd : null,
        dom_ms: nav ? nav.domContentLoadedEventEnd : null,
        page_api_ms: api.length ? Math.max(...api.map(e => e.responseEnd))
                                  - Math.min(...api.map(e => e.startTime)) : null,
        api_calls: api.length};
"""


def loadavg() -> list[float]:
    """1, 5 and 15-minute load averages: the 2 cores are shared, recorded per run."""
    return [round(x, 2) for x in os.getloadavg()]


def api_alone(client: httpx.Client, base: str, token: str, shop: str, first: str,
              last: str) -> dict[str, float]:
    """The page's three requests before its paint, one after the other (ms)."""
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    client.get(f"{base}/dashboard/config").raise_for_status()
    t1 = time.perf_counter()
    client.get(f"{base}/analytics/shops", headers=headers).raise_for_status()
    t2 = time.perf_counter()
    client.get(f"{base}/analytics/shops/{shop}/sales", headers=headers, params={
        "from": first, "to": last, "sort": "date", "page_size": 500}).raise_for_status()
    t3 = time.perf_counter()
    out["config_ms"] = round((t1 - t0) * 1000, 3)
    out["shops_ms"] = round((t2 - t1) * 1000, 3)
    out["sales_ms"] = round((t3 - t2) * 1000, 3)
    out["api_ms"] = round((t3 - t0) * 1000, 3)
    return out


def page_load(driver: Any, url: str) -> dict[str, Any]:
    driver.get(url)
    wait_for(driver, "return document.body.dataset.painted === '1' && "
                     "document.body.dataset.state === 'ready'", timeout=60)
    timings: dict[str, Any] = driver.execute_script(PAGE_TIMINGS)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in timings.items()}


def bench_dashboard_paint(runs: int, other_shops: int, results_dir: Path) -> Result:
    from bench.loadgen import core_api

    result = Result(NAME, {"runs": runs, "other_shops": other_shops, "days": 366,
                           "ranges": RANGES, "browser": "Debian chromium, headless=new",
                           "window": "1440x1000"})
    last = date.today()
    first = last - timedelta(days=365)
    with bench_database() as dsn, tempfile.TemporaryDirectory(prefix="dash-bench-") as tmp:
        local = Path(tmp) / "local"
        with core_api(dsn, workers=1) as core:
            seller = make_seller(dsn, core, [SHOP])
            shop = str(seller.shops[SHOP])
            rows = sales_rows(seller.shops[SHOP], first, 366, scale=2)
            for n in range(other_shops):
                rows += sales_rows(uuid4(), first, 366, seed=n)
            t0 = time.perf_counter()
            write_marts(local, rows)
            print(f"    {len(rows)} mart rows written in {time.perf_counter() - t0:.1f}s",
                  flush=True)
            result.params["mart_rows"] = len(rows)
            with dashboard_stack(dsn, local, core_url=core) as stack, \
                    chromium() as driver, httpx.Client(timeout=30) as client:
                sign_in(driver, stack.dashboard_url, seller)
                stored = driver.execute_script(
                    "return JSON.parse(sessionStorage.getItem('dashboard.tokens'))")
                token = stored["access_token"]
                urls = {name: (f"{stack.dashboard_url}?shop={shop}"
                               f"&from={(last - timedelta(days=days - 1)).isoformat()}"
                               f"&to={last.isoformat()}")
                        for name, days in RANGES.items()}
                # One warm-up of each (modules and Chart.js into the cache, the API's
                # first queries), not counted.
                for name, days in RANGES.items():
                    page_load(driver, urls[name])
                    api_alone(client, stack.serving_url, token, shop,
                              (last - timedelta(days=days - 1)).isoformat(), last.isoformat())
                for i in range(runs):
                    run: dict[str, Any] = {"run": i + 1, "loadavg": loadavg()}
                    for name, days in RANGES.items():
                        page = page_load(driver, urls[name])
                        api = api_alone(client, stack.serving_url, token, shop,
                                        (last - timedelta(days=days - 1)).isoformat(),
                                        last.isoformat())
                        run[name] = {**page, **api}
                    result.runs.append(run)
                    print(f"    run {i + 1}: " + "; ".join(
                        f"{n} paint {run[n]['paint_ms']:.0f} ms, API {run[n]['api_ms']:.1f} ms"
                        for n in RANGES), flush=True)
        result.machine["postgres"] = postgres_version(dsn)
    for name in RANGES:
        result.median[name] = {key: median_of(result.runs, f"{name}.{key}") for key in
                               ("paint_ms", "data_ms", "fcp_ms", "html_ms", "dom_ms",
                                "page_api_ms")}
        result.baseline_median[name] = {key: median_of(result.runs, f"{name}.{key}") for key in
                                        ("api_ms", "config_ms", "shops_ms", "sales_ms")}
        result.ratio[f"paint_over_api_{name}"] = ratio(result.median[name]["paint_ms"],
                                                       result.baseline_median[name]["api_ms"])
        paints = [r[name]["paint_ms"] for r in result.runs if r[name]["paint_ms"] is not None]
        if len(paints) > 1:
            result.median[name]["paint_ms_stdev"] = round(statistics.stdev(paints), 3)
    result.notes.append(
        "paint = navigation start to the page's 'dashboard:meaningful-paint' mark (totals, "
        "revenue chart and daily table painted); api = the 3 requests it waits for, "
        "sequential, from Python over keep-alive; both warm (Chart.js cached), same run; "
        "the 2 cores are shared (loadavg per run): read the ratio, not the milliseconds")
    result.write(results_dir)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_paint",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 runs, 20 other shops")
    parser.add_argument("--runs", type=int, default=None, help="runs (default 9; quick 3)")
    parser.add_argument("--shops", type=int, default=None,
                        help="other shops in the mart, 366 days each (default 300; quick 20)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 9)
    shops = args.shops if args.shops is not None else (20 if args.quick else 300)
    get_settings().logs_dir.mkdir(parents=True, exist_ok=True)
    result = bench_dashboard_paint(runs, shops, args.results_dir)
    for name in RANGES:
        m, b = result.median[name], result.baseline_median[name]
        print(f"{NAME} {name}: paint {m['paint_ms']} ms (FCP {m['fcp_ms']} ms) vs API "
              f"{b['api_ms']} ms: x{result.ratio[f'paint_over_api_{name}']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
