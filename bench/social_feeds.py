"""Explore and Following over HTTP at a fixed rate, with 1 million posts' worth of ranking
rows; the same queries on Postgres directly as the baseline, from the same load generator.

    python -m bench.social_feeds [--quick] [--posts N] [--rate R] [--seconds S] [--runs N]
                                 [--api-workers N] [--keep DB]

Writes `bench/results/social_feeds.json`.

Data (a throwaway database `bench_feeds_<random>`, migrations applied, dropped at the end
unless `--keep DB`, which fills DB once and reuses it): 100 merchants, 2,000 shops, 500
seller accounts and 5,000 user authors; N posts (default 1,000,000; half shop posts, half
user posts; 2% private, 3% followers-only, 0.1% pinned; two tags of ten; a third with a
Bishkek geo point; created over 60 days) and one `explore_scores` row per post (what the
lake writes back). The viewer (a buyer) follows 150 shops (~250 posts each) and 50 users
(~100 posts each); the authors follow 20 shops each (100k follow rows in all).

Per run (default 3), for Explore and then Following, in this order:

* api — the real core API (`uvicorn marketplace_core.api.main:app --workers 2`, each
  process with its own Explore snapshot, loaded before the clock starts) under the Go load
  generator (bench/loadgen) at a fixed rate (open loop, default 500/s) for S seconds, every
  request signed in as the viewer: `GET /feed/explore` (plain, `near`, `tags`, both; 30%
  deeper pages) and `GET /feed/following` (first page, 40% pages 2-5);
* sql — the same load generator in its Postgres mode (`-pg`: one connection per worker,
  simple query protocol) at the same rate: for Explore the ranking done by Postgres
  (`explore_scores` joined to the viewer-visible posts — the platform's own visibility
  predicate — ordered by score plus the same geo and tag parts, LIMIT 20 OFFSET page);
  for Following the exact feed query `social.feeds.following` sends (rendered with its
  parameters). `jit = off` in both, as the API sets it.

`ratio.*_p99_api_over_sql` compares the two p99s (below 1: the API beats Postgres doing
the same work). Goal (issue): p99 < 50 ms at 500 req/s for Explore and for Following.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.lake_common import loadavg
from bench.loadgen import core_api, http_load, pg_load
from bench.results import RESULTS_DIR, Result, median_of, ratio, target
from infra.settings import get_settings

NAME = "social_feeds"
GOAL_P99_MS = 50.0
TAGS = ["plov", "manty", "fruit", "shoes", "phones", "kids", "dordoi", "osh", "sale", "new"]
SHOPS = 2_000
SELLERS = 500
AUTHORS = 5_000
FOLLOWED_SHOPS = 150
FOLLOWED_USERS = 50
NEAR = (42.87, 74.59)


@contextmanager
def feeds_database(keep: str | None) -> Iterator[tuple[str, bool]]:
    """A database of its own; yields (dsn, filled already)."""
    admin = get_settings().postgres_dsn
    name = keep or f"bench_feeds_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as c:
        exists = c.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            c.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(admin, dbname=name), bool(exists)
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)))


def fill(dsn: str, posts: int) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("select setseed(0.42)")
        conn.execute("insert into users (email, password_hash, full_name, role) values"
                     " ('viewer@bench.kg', 'x', 'Viewer', 'buyer')")
        conn.execute(
            """insert into users (email, password_hash, full_name, role)
               select 'seller' || i || '@bench.kg', 'x', 'Seller ' || i, 'seller'
               from generate_series(1, %s) i""", (SELLERS,))
        conn.execute(
            """insert into users (email, password_hash, full_name, role)
               select 'author' || i || '@bench.kg', 'x', 'Author ' || i, 'buyer'
               from generate_series(1, %s) i""", (AUTHORS,))
        conn.execute("insert into merchants (name) select 'Merchant ' || i"
                     " from generate_series(1, 100) i")
        conn.execute(
            """insert into shops (merchant_id, name, lat, lon, market)
               select (select array_agg(id order by name) from merchants)[1 + i %% 100],
                      'Shop ' || i, 42.80 + random() * 0.12, 74.50 + random() * 0.20, 'Dordoi'
               from generate_series(1, %s) i""", (SHOPS,))
        conn.execute(
            """with s as (select array_agg(id order by name) a from shops),
                    se as (select array_agg(id order by email) a from users
                           where email like 'seller%%'),
                    au as (select array_agg(id order by email) a from users
                           where email like 'author%%')
               insert into posts (owner_type, shop_id, author_id, text, tags, lat, lon,
                                  visibility, pinned, created_at)
               select case when i %% 2 = 0 then 'seller' else 'user' end,
                      case when i %% 2 = 0 then s.a[1 + (i / 2) %% %(shops)s] end,
                      case when i %% 2 = 0 then se.a[1 + (i / 2) %% %(sellers)s]
                           else au.a[1 + (i / 2) %% %(authors)s] end,
                      'post ' || i,
                      array[(%(tags)s::text[])[1 + (i %% 10)],
                            (%(tags)s::text[])[1 + ((i / 10) %% 10)]],
                      case when i %% 3 = 0 then 42.80 + random() * 0.15 end,
                      case when i %% 3 = 0 then 74.50 + random() * 0.20 end,
                      case when i %% 50 = 0 then 'private'
                           when i %% 33 = 0 then 'followers' else 'public' end,
                      i %% 1000 = 7,
                      now() - random() * interval '60 days'
               from generate_series(1, %(n)s) i, s, se, au""",
            {"shops": SHOPS, "sellers": SELLERS, "authors": AUTHORS, "tags": TAGS,
             "n": posts})
        conn.execute(
            """insert into explore_scores (post_id, score, parts, computed_at)
               select id, s, jsonb_build_object('engagement', s * 0.6, 'freshness', s * 0.4),
                      now()
               from (select id, power(random(), 3) as s from posts) x""")
        viewer = viewer_id(conn)
        conn.execute(
            """insert into social_follows (follower_id, target_type, target_id)
               select %s, 'shop', id from shops order by name limit %s""",
            (viewer, FOLLOWED_SHOPS))
        conn.execute(
            """insert into social_follows (follower_id, target_type, target_id)
               select %s, 'user', id from users where email like 'author%%'
               order by email limit %s""", (viewer, FOLLOWED_USERS))
        conn.execute(
            """insert into social_follows (follower_id, target_type, target_id)
               select distinct u.id, 'shop', (select array_agg(id order by name) from shops)
                                             [1 + floor(random() * %s)::int]
               from users u, generate_series(1, 20) g where u.email like 'author%%'
               on conflict do nothing""", (SHOPS,))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("vacuum analyze")


def viewer_id(conn: psycopg.Connection[Any]) -> UUID:
    row = conn.execute("select id from users where email = 'viewer@bench.kg'").fetchone()
    assert row is not None
    return UUID(str(row[0]))


# --- the requests -------------------------------------------------------------------------


def explore_requests(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Request shapes like bench/social_explore.py: plain, near, tags, near+tags; 30% of
    them deeper pages (positions 20, 100 or 1000)."""
    shapes: list[dict[str, Any]] = [
        {}, {"near": NEAR}, {"tags": ["plov", "osh"]}, {"near": NEAR, "tags": ["fruit"]}]
    out = []
    for _ in range(n):
        req = dict(rng.choice(shapes))
        req["offset"] = rng.choice([20, 100, 1000]) if rng.random() < 0.3 else 0
        out.append(req)
    return out


def explore_url(base: str, req: dict[str, Any]) -> str:
    from marketplace_core.social.ranking import encode_cursor

    q = ["limit=20"]
    if "near" in req:
        q.append(f"near={req['near'][0]},{req['near'][1]}")
    if "tags" in req:
        q.append("tags=" + ",".join(req["tags"]))
    if req["offset"]:
        q.append("cursor=" + encode_cursor(req["offset"]))
    return f"{base}/feed/explore?" + "&".join(q)


def explore_sql(conn: psycopg.Connection[Any], viewer: UUID, req: dict[str, Any]) -> str:
    """Explore's ranking done by Postgres: stored score + the same request-time geo and
    tag parts (marketplace_core.social.ranking), visible posts only, one page."""
    from marketplace_core.social import ranking, visibility
    from marketplace_core.social.feeds import _HIDDEN_FOR_ME, distance_sql

    parts = ["s.score"]
    params: dict[str, Any] = {"viewer": viewer, "admin": False, "offset": req["offset"]}
    if "near" in req:
        params["near_lat"], params["near_lon"] = req["near"]
        parts.append(f"case when p.lat is null then 0 else {ranking.GEO_WEIGHT} * greatest("
                     f"0, 1 - {distance_sql('p.lat', 'p.lon')} / {ranking.GEO_RADIUS_KM}) end")
    if "tags" in req:
        params["tags"] = req["tags"]
        parts.append(f"{ranking.TAG_WEIGHT} * cardinality(array(select unnest(p.tags)"
                     f" intersect select unnest(%(tags)s::text[])))::float8"
                     f" / {len(req['tags'])}")
    query = (f"select p.id, p.created_at, {' + '.join(parts)} as rank"
             " from explore_scores s join posts p on p.id = s.post_id"
             f" where {visibility.post_visible_sql('p')} and {_HIDDEN_FOR_ME}"
             " order by rank desc, p.id limit 20 offset %(offset)s")
    return _one_line(psycopg.ClientCursor(conn).mogrify(query, params))


class _Recorder:
    """A connection stand-in that records each statement (rendered) and runs it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.info = conn.info
        self.statements: list[str] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        self.statements.append(psycopg.ClientCursor(self.conn).mogrify(query, params))
        return self.conn.execute(query, params, **kwargs)


def following_requests(conn: psycopg.Connection[Any], viewer: UUID, rng: random.Random,
                       n: int) -> list[tuple[str | None, str]]:
    """(cursor, the feed query for it): 60% first pages, 40% pages 2-5 (cursors taken from
    walking the feed in-process)."""
    from marketplace_core.accounts.principal import AuthenticatedUser
    from marketplace_core.social import feeds

    user = AuthenticatedUser(viewer, "buyer")
    pages: list[tuple[str | None, str]] = []
    cursor: str | None = None
    for _ in range(5):
        rec = _Recorder(conn)
        _, nxt = feeds.following(rec, user, cursor, 20)  # type: ignore[arg-type]
        feed_query = next(s for s in rec.statements if "social_follows f" in s)
        pages.append((cursor, _one_line(feed_query)))
        if nxt is None:
            break
        cursor = nxt
    return [pages[0] if rng.random() < 0.6 or len(pages) == 1 else rng.choice(pages[1:])
            for _ in range(n)]


SQL_TIMEOUT_S = 10  # the load generator's per-request timeout, also Postgres's


def _one_line(statement: str) -> str:
    """One line for the load generator; JIT off as the API sets it, and the statement
    cancelled by Postgres when the generator gives up on it."""
    return (f"set jit = off; set statement_timeout = '{SQL_TIMEOUT_S}s'; "
            + " ".join(statement.split()))


def access_token(dsn: str) -> str:
    from marketplace_core.accounts.service import issue_tokens

    with psycopg.connect(dsn) as conn:
        return issue_tokens(conn, viewer_id(conn), "buyer").access_token  # type: ignore[arg-type]


# --- the benchmark -------------------------------------------------------------------------


def warm_up(urls: Sequence[str], header: str, limit_s: float = 240) -> dict[str, Any]:
    """Until every API process loaded its snapshot: closed-loop rounds until one has no
    request slower than 1 s (the first request of a process loads the 1M rows)."""
    started = time.perf_counter()
    last: dict[str, Any] = {}
    while time.perf_counter() - started < limit_s:
        last = http_load(urls, seconds=3, workers=8, header=header, timeout_s=300)
        if last["errors"] == 0 and last["latency_ms"]["max"] < 1000:
            break
    return {"seconds": round(time.perf_counter() - started, 1),
            "last_round_p99_ms": last.get("latency_ms", {}).get("p99")}


def bench_social_feeds(args: argparse.Namespace) -> Result:
    rng = random.Random(args.seed)
    result = Result(NAME, {
        "posts": args.posts, "score_rows": args.posts, "rate": args.rate,
        "seconds": args.seconds, "runs": args.runs, "api_workers": args.api_workers,
        "loadgen_workers": args.workers, "shops": SHOPS, "followed_shops": FOLLOWED_SHOPS,
        "followed_users": FOLLOWED_USERS,
        "api": "uvicorn marketplace_core.api.main:app; bench/loadgen fixed rate, signed in",
        "baseline": "bench/loadgen -pg at the same rate: Explore ranked by Postgres; the "
                    "Following feed query",
    })
    with feeds_database(args.keep) as (dsn, filled):
        if not filled:
            t0 = time.perf_counter()
            from marketplace_core.migrate import apply_migrations

            apply_migrations(dsn)
            fill(dsn, args.posts)
            result.params["fill_seconds"] = round(time.perf_counter() - t0, 1)
            print(f"    filled {args.posts} posts in {result.params['fill_seconds']}s",
                  flush=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            viewer = viewer_id(conn)
            followed = conn.execute(
                """select count(*) from posts p join social_follows f
                   on f.follower_id = %s and ((f.target_type = 'shop' and f.target_id = p.shop_id)
                   or (f.target_type = 'user' and p.owner_type = 'user'
                       and f.target_id = p.author_id))""", (viewer,)).fetchone()
            result.params["followed_posts"] = followed[0] if followed else None
            ex_reqs = explore_requests(rng, 400)
            ex_sql = [explore_sql(conn, viewer, r) for r in ex_reqs]
            fo_reqs = following_requests(conn, viewer, rng, 400)
        token = access_token(dsn)
        header = f"Authorization: Bearer {token}"
        pg = _pg_url(dsn)
        with core_api(dsn, workers=args.api_workers) as base:
            ex_urls = [explore_url(base, r) for r in ex_reqs]
            fo_urls = [f"{base}/feed/following?limit=20"
                       + (f"&cursor={c}" if c else "") for c, _ in fo_reqs]
            fo_sql = [s for _, s in fo_reqs]
            result.params["warm_up"] = warm_up(ex_urls + fo_urls, header)
            print(f"    API warm (snapshots loaded): {result.params['warm_up']}", flush=True)
            for i in range(args.runs):
                run: dict[str, Any] = {"run": i + 1, "load_before": loadavg()}
                for feed, urls, stmts in (("explore", ex_urls, ex_sql),
                                          ("following", fo_urls, fo_sql)):
                    api = http_load(urls, seconds=args.seconds, rate=args.rate,
                                    workers=args.workers, header=header,
                                    stop_at_deadline=True)
                    quiet(dsn)
                    base_sql = pg_load(stmts, pg, seconds=args.seconds, rate=args.rate,
                                       workers=args.workers, timeout_s=SQL_TIMEOUT_S,
                                       stop_at_deadline=True)
                    quiet(dsn)
                    run[feed] = {"api": api, "sql": base_sql}
                    print(f"    run {i + 1} {feed}: API {api['throughput']:.0f}/s p50 "
                          f"{api['latency_ms']['p50']:.1f} p99 {api['latency_ms']['p99']:.1f}"
                          f" ms ({api['errors']} errors, status {api['status']}); SQL "
                          f"{base_sql['throughput']:.0f}/s p50 "
                          f"{base_sql['latency_ms']['p50']:.1f} p99 "
                          f"{base_sql['latency_ms']['p99']:.1f} ms "
                          f"({base_sql['errors']} errors); load {loadavg()[0]}", flush=True)
                run["load_after"] = loadavg()
                result.runs.append(run)
    summarise(result, args.rate)
    return result


def quiet(dsn: str, limit_s: float = 30) -> None:
    """Wait until no statement of the load generator still runs in Postgres (a query the
    generator gave up on runs until its statement_timeout): the next measurement starts on
    an idle database."""
    deadline = time.monotonic() + limit_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("select count(*) from pg_stat_activity where application_name"
                               " = 'bench-loadgen' and state = 'active'").fetchone()
            if not row or not row[0]:
                return
            time.sleep(0.5)


def _pg_url(dsn: str) -> str:
    d = conninfo_to_dict(dsn)
    return (f"postgresql://{d.get('user', '')}:{d.get('password', '')}@{d.get('host', '127.0.0.1')}"
            f":{d.get('port', 5432)}/{d['dbname']}")


def summarise(result: Result, rate: float) -> None:
    runs = result.runs
    for feed in ("explore", "following"):
        for side, into in (("api", result.median), ("sql", result.baseline_median)):
            into[feed] = {k: median_of(runs, f"{feed}.{side}.latency_ms.{k}")
                          for k in ("p50", "p90", "p99", "max")} | {
                "throughput": median_of(runs, f"{feed}.{side}.throughput"),
                "sent_rate": median_of(runs, f"{feed}.{side}.sent_rate"),
                "errors": median_of(runs, f"{feed}.{side}.errors")}
        api, base = result.median[feed], result.baseline_median[feed]
        result.ratio[f"{feed}_p99_api_over_sql"] = ratio(api["p99"], base["p99"])
        result.ratio[f"{feed}_p50_api_over_sql"] = ratio(api["p50"], base["p50"])
        result.ratio[f"{feed}_throughput_api_over_sql"] = ratio(api["throughput"],
                                                                base["throughput"])
        result.targets[f"{feed}_p99_ms"] = target(api["p99"], below=GOAL_P99_MS)
        result.targets[f"{feed}_rate_kept"] = target(api["throughput"], at_least=0.95 * rate)
    result.targets["met"] = all(t["met"] for t in result.targets.values()
                                if isinstance(t, dict))
    loads = [r["load_before"][0] for r in runs]
    result.notes.append(f"1-minute load average before each run: {loads} (2 cores shared "
                        "by Postgres, the API processes and the load generator)")
    result.notes.append("latency from the moment a load-generator worker sends the request "
                        "to its last byte; when every worker is busy the sends wait (not "
                        "counted as latency) and the achieved rate (throughput) falls below "
                        "the target: read both")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.social_feeds", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20,000 posts, 1 run of 5 s")
    ap.add_argument("--posts", type=int, default=None, help="default 1,000,000")
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=None, help="per measurement (15)")
    ap.add_argument("--runs", type=int, default=None, help="default 3 (quick: 1)")
    ap.add_argument("--api-workers", type=int, default=2)
    ap.add_argument("--workers", type=int, default=32, help="load-generator workers")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", metavar="DB", help="fill DB once and keep it")
    ap.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    args.posts = args.posts or (20_000 if args.quick else 1_000_000)
    args.seconds = args.seconds or (5.0 if args.quick else 15.0)
    args.runs = args.runs or (1 if args.quick else 3)
    result = bench_social_feeds(args)
    result.params["quick"] = args.quick
    print(f"    wrote {result.write(args.results_dir)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
