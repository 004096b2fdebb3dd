"""Explore serving latency with 1 million score rows (marketplace_core.social.ranking).

Creates a throwaway database, writes N posts and N explore_scores rows, then times the
whole serving path of GET /feed/explore minus HTTP (snapshot check, top-k with request-time
parts, the viewer's filter in Postgres, the page's posts) from T threads, open loop at a
target rate. Prints the snapshot load time and p50/p95/p99 per request shape as JSON.

    .local/venv/bin/python -m bench.social_explore --posts 1000000 --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.settings import get_settings
from marketplace_core.accounts.principal import AuthenticatedUser
from marketplace_core.db import open_pool
from marketplace_core.migrate import apply_migrations
from marketplace_core.social import feeds
from marketplace_core.social.ranking import ExploreIndex, Request

TAGS = ["plov", "manty", "fruit", "shoes", "phones", "kids", "dordoi", "osh", "sale", "new"]


def _fill(dsn: str, n: int) -> None:
    with psycopg.connect(dsn) as conn:
        uid = conn.execute(
            "insert into users (email, password_hash, full_name, role) values"
            " ('bench@x.kg', 'x', 'Bench', 'buyer') returning id").fetchone()[0]  # type: ignore[index]
        conn.execute("select setseed(0.42)")
        conn.execute(
            """insert into posts (owner_type, author_id, text, tags, lat, lon, visibility,
                                  created_at)
               select 'user', %s, '', array[(%s::text[])[1 + (i %% 10)],
                                           (%s::text[])[1 + ((i / 10) %% 10)]],
                      case when i %% 3 = 0 then 42.80 + random() * 0.15 end,
                      case when i %% 3 = 0 then 74.50 + random() * 0.20 end,
                      case when i %% 50 = 0 then 'private' else 'public' end,
                      now() - random() * interval '60 days'
               from generate_series(1, %s) i""", (uid, TAGS, TAGS, n))
        conn.execute(
            """insert into explore_scores (post_id, score, parts, computed_at)
               select id, s, jsonb_build_object('engagement', s * 0.6, 'freshness', s * 0.4),
                      now()
               from (select id, power(random(), 3) as s from posts) x""")
        conn.execute("analyze")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--keep", metavar="DB", help="fill (once) and keep this database")
    args = ap.parse_args()
    admin = get_settings().postgres_dsn
    name = args.keep or f"bench_social_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as c:
        exists = c.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            c.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = make_conninfo(admin, dbname=name)
    try:
        fill_s = 0.0
        if not exists:
            apply_migrations(dsn)
            t0 = time.perf_counter()
            _fill(dsn, args.posts)
            fill_s = time.perf_counter() - t0
        pool = open_pool(dsn, min_size=args.threads, max_size=args.threads, autocommit=True)
        index = ExploreIndex()
        with pool.connection() as conn:
            t0 = time.perf_counter()
            index.refresh(conn, force=True)
            load_s = time.perf_counter() - t0
            viewer = AuthenticatedUser(conn.execute("select id from users").fetchone()[0],  # type: ignore[index]
                                       "buyer")
        shapes: dict[str, dict[str, Any]] = {
            "plain": {}, "near": {"near": (42.87, 74.59)}, "tags": {"tags": ["plov", "osh"]},
            "near+tags": {"near": (42.87, 74.59), "tags": ["fruit"]}}
        lat: dict[str, list[float]] = {k: [] for k in shapes}
        lock = threading.Lock()

        def one(shape: str) -> None:
            req = Request(tags=shapes[shape].get("tags", []), near=shapes[shape].get("near"))
            cursor = None
            if random.random() < 0.3:  # some deeper pages
                cursor = __import__("marketplace_core.social.ranking", fromlist=["x"]) \
                    .encode_cursor(random.choice([20, 100, 1000]))
            t = time.perf_counter()
            with pool.connection() as conn:
                feeds.explore(conn, index, viewer if random.random() < 0.5 else None, req,
                              cursor, 20, explain=random.random() < 0.1)
            with lock:
                lat[shape].append((time.perf_counter() - t) * 1000)

        for shape in shapes:  # warm up
            one(shape)
        total = int(args.rate * args.seconds)
        start = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as ex:
            futures = []
            for i in range(total):
                due = start + i / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(ex.submit(one, random.choice(list(shapes))))
            for f in futures:
                f.result()
        wall = time.perf_counter() - start

        def pct(v: list[float], p: float) -> float:
            s = sorted(v)
            return round(s[min(len(s) - 1, int(p * len(s)))], 2)

        every = [x for v in lat.values() for x in v]
        out = {"posts": args.posts, "score_rows": args.posts, "fill_s": round(fill_s, 1),
               "snapshot_load_s": round(load_s, 2), "requests": len(every),
               "achieved_rate": round(len(every) / wall, 1), "threads": args.threads,
               "all_ms": {"p50": pct(every, .5), "p95": pct(every, .95),
                          "p99": pct(every, .99), "mean": round(statistics.mean(every), 2)},
               "by_shape_p99_ms": {k: pct(v, .99) for k, v in lat.items()}}
        print(json.dumps(out, indent=2))
        pool.close()
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)))


if __name__ == "__main__":
    main()
