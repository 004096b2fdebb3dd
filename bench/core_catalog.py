"""Catalog reads: the product card and product search, over HTTP and straight on psycopg.

Each run measures, on the same database and in the same minute:

* `api_rate` — the real API (uvicorn, 2 workers) at a fixed request rate (open loop):
  does it keep the rate, and with which latencies;
* `api_max` — the API closed-loop with `concurrency` clients: its ceiling;
* `baseline` — the same service function (`get_product_card` / `search_products`, the
  same SQL, in the same `transaction(pool)` as the handler) from `concurrency` Python
  threads on a psycopg pool, no HTTP: what the database + driver give.

`ratio` = API / baseline for throughput and latency (closed loop vs closed loop at the
same concurrency): what HTTP, routing, validation and JSON cost on top of the query.
Requests pick products uniformly at random among the ~25k (card) or cycle through a fixed
mix of ~2000 searches (text, typos, Kyrgyz words, category, price, distance, shop).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import psycopg

from bench.catalog_data import LAT_RANGE, LON_RANGE, CatalogInfo
from bench.loadgen import baseline_load, baseline_pool, core_api, http_load
from bench.results import Result, all_met, median_of, ratio, target
from marketplace_core.catalog.card import get_product_card
from marketplace_core.catalog.search import SearchQuery, search_products
from marketplace_core.db import transaction

KY_SHARE = 0.2  # the share of card reads in Kyrgyz (the rest Russian)


@dataclass(frozen=True)
class LoadParams:
    runs: int
    seconds: float
    rate: float          # the fixed rate of `api_rate`
    concurrency: int     # clients of `api_max` and threads of the baseline


def _measure(name: str, params: LoadParams, urls: list[str], call: Any, dsn: str,
             *, extra_params: dict[str, Any], compare_urls: list[str] | None = None,
             compare: str = "") -> Result:
    """`compare_urls`: the same requests to a second API (another configuration), measured
    in every run right after the first one's, as modes `api_rate_<compare>` and
    `api_max_<compare>`."""
    result = Result(name, {"runs": params.runs, "seconds_per_run": params.seconds,
                           "rate": params.rate, "concurrency": params.concurrency,
                           **extra_params})
    # a short warm-up fills both pools and the caches before anything is recorded
    http_load(urls, seconds=1.5, rate=0, workers=params.concurrency)
    if compare_urls:
        http_load(compare_urls, seconds=1.5, rate=0, workers=params.concurrency)
    with baseline_pool(dsn, params.concurrency) as pool:
        baseline_load(lambda rng: call(pool, rng), seconds=1.0, threads=params.concurrency)
        for i in range(params.runs):
            run = {
                "run": i + 1,
                "api_rate": http_load(urls, seconds=params.seconds, rate=params.rate,
                                      workers=max(64, params.concurrency)),
                "api_max": http_load(urls, seconds=params.seconds, rate=0,
                                     workers=params.concurrency),
                **({f"api_rate_{compare}": http_load(
                        compare_urls, seconds=params.seconds, rate=params.rate,
                        workers=max(64, params.concurrency)),
                    f"api_max_{compare}": http_load(compare_urls, seconds=params.seconds,
                                                    rate=0, workers=params.concurrency)}
                   if compare_urls else {}),
                "baseline": baseline_load(lambda rng: call(pool, rng), seconds=params.seconds,
                                          threads=params.concurrency),
            }
            result.runs.append(run)
            print(f"    run {i + 1}/{params.runs}: " + _line(run), flush=True)
    runs = result.runs
    modes = ["api_rate", "api_max"]
    if compare_urls:
        modes += [f"api_rate_{compare}", f"api_max_{compare}"]
    for mode in modes:
        result.median[mode] = {
            "throughput": median_of(runs, f"{mode}.throughput"),
            "p50_ms": median_of(runs, f"{mode}.latency_ms.p50"),
            "p99_ms": median_of(runs, f"{mode}.latency_ms.p99"),
            "errors": median_of(runs, f"{mode}.errors"),
            "non_2xx": median_of([{"n": r[mode]["requests"] - r[mode]["succeeded"]
                                   - r[mode]["errors"]} for r in runs], "n"),
        }
    result.baseline_median = {
        "throughput": median_of(runs, "baseline.throughput"),
        "p50_ms": median_of(runs, "baseline.latency_ms.p50"),
        "p99_ms": median_of(runs, "baseline.latency_ms.p99"),
        "errors": median_of(runs, "baseline.errors"),
    }
    api, base = result.median["api_max"], result.baseline_median
    result.ratio = {
        "throughput_api_max_over_baseline": ratio(api["throughput"], base["throughput"]),
        "p50_api_max_over_baseline": ratio(api["p50_ms"], base["p50_ms"]),
        "p99_api_max_over_baseline": ratio(api["p99_ms"], base["p99_ms"]),
        "p99_api_rate_over_baseline": ratio(result.median["api_rate"]["p99_ms"],
                                            base["p99_ms"]),
    }
    return result


def _line(run: dict[str, Any]) -> str:
    parts = []
    for mode in [m for m in run if m.startswith("api_")] + ["baseline"]:
        m = run[mode]
        bad = m["requests"] - m["succeeded"]
        parts.append(f"{mode} {m['throughput']:.0f}/s p50 {m['latency_ms']['p50']:.1f}"
                     f" p99 {m['latency_ms']['p99']:.1f} ms" + (f" ({bad} failed)" if bad else ""))
    return "; ".join(parts)


# --- product card ----------------------------------------------------------------------------


def card_targets(product_ids: list[UUID], count: int, seed: int = 1) -> list[tuple[UUID, str]]:
    rng = random.Random(seed)
    return [(rng.choice(product_ids), "ky" if rng.random() < KY_SHARE else "ru")
            for _ in range(count)]


def bench_card(dsn: str, base_url: str, info: CatalogInfo, params: LoadParams) -> Result:
    """`base_url`: the API as configured (card cache on). In the same runs, the same
    requests go to a second API with the cache off (`CARD_CACHE_ENTRIES=0`): modes
    `api_rate_nocache` / `api_max_nocache`, and `ratio.*_cache_over_nocache`."""
    targets = card_targets(info.product_ids, 20_000)
    path = [f"/products/{pid}?lang={lang}" for pid, lang in targets]

    def call(pool: Any, rng: random.Random) -> None:
        pid, lang = targets[rng.randrange(len(targets))]
        with transaction(pool) as conn:
            card = get_product_card(conn, pid, lang)
        assert card is not None

    with core_api(dsn, env={"CARD_CACHE_ENTRIES": "0"}) as nocache_url:
        result = _measure("catalog_card", params, [base_url + p for p in path], call, dsn,
                          compare_urls=[nocache_url + p for p in path], compare="nocache",
                          extra_params={"products": len(info.product_ids),
                                        "variants": info.variants, "ky_share": KY_SHARE,
                                        "distinct_requests": len(set(targets)),
                                        "cache": "per-process, version-checked"
                                                 " (catalog/card_cache.py)"})
    m = result.median
    for mode in ("rate", "max"):
        on, off = m[f"api_{mode}"], m[f"api_{mode}_nocache"]
        result.ratio[f"throughput_api_{mode}_cache_over_nocache"] = ratio(
            on["throughput"], off["throughput"])
        result.ratio[f"p50_api_{mode}_cache_over_nocache"] = ratio(on["p50_ms"], off["p50_ms"])
        result.ratio[f"p99_api_{mode}_cache_over_nocache"] = ratio(on["p99_ms"], off["p99_ms"])
    rate_run = m["api_rate"]
    result.targets = {
        "api_max_throughput_rps": target(m["api_max"]["throughput"], at_least=1000),
        "api_rate_sustained_rps": target(rate_run["throughput"], at_least=0.98 * params.rate),
        "api_rate_p99_ms": target(rate_run["p99_ms"], below=50),
    }
    result.targets["met"] = all_met(result.targets)
    return result


# --- search ------------------------------------------------------------------------------------


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1:]                       # a dropped letter
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]   # two letters swapped


SEARCH_WORDS_RU = ["смартфон", "телефон", "ноутбук", "наушники", "калпак", "шырдак", "чай",
                   "мёд", "кумыс", "куртка", "платье", "казан", "пиала", "конструктор",
                   "кроссовки", "крем", "шампунь", "шины", "видеорегистратор", "пуховик",
                   "смартфоны", "наушников", "зелёный", "зимняя", "войлочные", "горный"]


def search_mix(info: CatalogInfo, count: int, seed: int = 2) -> list[dict[str, Any]]:
    """`count` search requests as query-string dicts (the API's parameter names)."""
    rng = random.Random(seed)
    latin = [w for w in info.vocabulary if w.isascii() and w.isalpha() and len(w) >= 4]
    russian = SEARCH_WORDS_RU + [w for w in info.vocabulary if w.isalpha() and not w.isascii()]
    kyrgyz = [w for w in info.kyrgyz_words if w.isalpha()] or ["калпагы"]
    mix: list[dict[str, Any]] = []
    for _ in range(count):
        kind = rng.random()
        q: dict[str, Any] = {}
        if kind < 0.30:                                  # plain words
            q["q"] = rng.choice(russian)
            if rng.random() < 0.5:
                q["q"] += " " + rng.choice(latin)
        elif kind < 0.45:                                # a typo
            word = rng.choice([w for w in russian if len(w) >= 5])
            q["q"] = _typo(word, rng)
        elif kind < 0.60:                                # Kyrgyz, in Kyrgyz
            q["q"] = rng.choice(kyrgyz)
            q["lang"] = "ky"
        elif kind < 0.75:                                # text + category + price range
            q["q"] = rng.choice(russian)
            q["category_id"] = rng.choice(info.root_category_ids)
            low = rng.choice([0, 500, 1000, 5000])
            q["price_min"] = f"{Decimal(low):.2f}"
            q["price_max"] = f"{Decimal(low + rng.choice([2000, 10000, 50000])):.2f}"
        elif kind < 0.90:                                # near a point
            q["lat"] = round(rng.uniform(*LAT_RANGE), 5)
            q["lon"] = round(rng.uniform(*LON_RANGE), 5)
            q["radius_km"] = rng.choice([1, 2, 3, 5])
            if rng.random() < 0.5:
                q["q"] = rng.choice(russian)
        else:                                            # one shop
            q["shop_id"] = rng.choice(info.shop_ids)
            if rng.random() < 0.5:
                q["q"] = rng.choice(russian)
        mix.append(q)
    return mix


def to_query(params: dict[str, Any]) -> SearchQuery:
    """The service's query for one request (the API handler's conversion)."""
    return SearchQuery(
        q=params.get("q"), category_id=params.get("category_id"),
        price_min=Decimal(params["price_min"]) if "price_min" in params else None,
        price_max=Decimal(params["price_max"]) if "price_max" in params else None,
        shop_id=params.get("shop_id"), lat=params.get("lat"), lon=params.get("lon"),
        radius_km=params.get("radius_km"), lang=params.get("lang", "ru"))


def bench_search(dsn: str, base_url: str, info: CatalogInfo, params: LoadParams) -> Result:
    mix = search_mix(info, 2000)
    urls = [f"{base_url}/search/products?{urlencode(q)}" for q in mix]
    queries = [to_query(q) for q in mix]

    def call(pool: Any, rng: random.Random) -> None:
        with transaction(pool) as conn:
            search_products(conn, queries[rng.randrange(len(queries))])

    # Not timed: how many of the queries find something (a benchmark of empty answers
    # would flatter the figures). Unprepared, so each query gets its own plan.
    started = time.perf_counter()
    with psycopg.connect(dsn, prepare_threshold=None) as conn:
        sample = queries[:40]
        found = sum(1 for q in sample if search_products(conn, q).items)
    print(f"    {found}/{len(sample)} sampled queries find products"
          f" ({time.perf_counter() - started:.1f}s)", flush=True)

    result = _measure("catalog_search", params, urls, call, dsn,
                      extra_params={"products": len(info.product_ids),
                                    "variants": info.variants, "queries": len(mix),
                                    "queries_with_hits_share": round(found / len(sample), 3),
                                    "mix": "30% words, 15% typos, 15% Kyrgyz, 15% text+category"
                                           "+price, 15% distance (±text), 10% shop (±text)"})
    rate_run = result.median["api_rate"]
    result.targets = {
        "api_rate_sustained_rps": target(rate_run["throughput"], at_least=0.98 * params.rate),
        "api_rate_p99_ms": target(rate_run["p99_ms"], below=100),
        "api_rate_p99_ms_spec": target(rate_run["p99_ms"], below=800),
    }
    result.targets["met"] = all_met(result.targets)
    return result
