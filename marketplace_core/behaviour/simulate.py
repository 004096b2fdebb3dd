"""Buyer sessions in the apps, posted to `POST /events`: `python -m
marketplace_core.behaviour.simulate [--hours 24] [--speedup 3600] [--peak 600] [--seed 7]`.

A client of the core API over HTTP only (it imports nothing but the settings, for the
API's address): it discovers real products and shops with `GET /search/products` (text
queries and "near me" around Bishkek's markets), then replays the last `--hours` of
Bishkek life on a simulated clock running `--speedup` times real time (the period ends at
the moment it starts, so every event's client time is in the past, as the intake wants).

* Sessions arrive as a Poisson process whose rate follows the city's rhythm
  (`intensity`): quiet at night, a lunch bump, the evening peak (19-22 h Bishkek time) and
  weekends about 40 % busier; `--peak` sessions per simulated hour at the busiest moment.
* A session is a guest install (`anonymous_id`; 60 % of sessions come back from a pool of
  returning installs) on ios/android/web, sometimes from a UTM campaign; it walks a small
  Markov chain: feed/map/explore → search → result views and clicks → shop → save, share,
  add to cart, build a route (with the buyer's position), call or chat → leave.
* The app buffers a session's events and sends them in batches (at most `--batch`) when
  the session ends; `--retry-rate` of batches are sent twice, as a flaky network would
  (the intake answers `duplicate` for them).

Prints per-type counts, the intake's statuses and sessions per Bishkek hour.
"""

from __future__ import annotations

import math
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import click
import httpx
import orjson

from infra.settings import get_settings

BISHKEK = timezone(timedelta(hours=6), "Asia/Bishkek")
# Markets and malls buyers are near when they open the map (lat, lon).
PLACES = ((42.9434, 74.6126), (42.8746, 74.5698), (42.8866, 74.6280), (42.8761, 74.6146),
          (42.8756, 74.6116), (42.8757, 74.5900), (42.8545, 74.5849), (42.8650, 74.6040))
QUERIES = ("смартфон", "калпак", "кроссовки", "ковер", "чапан", "мед", "шырдак", "iphone",
           "детская одежда", "куртка", "чай", "сумка", "телефон", "платье", "наушники")
CAMPAIGNS = (("instagram", "social", "winter_sale"), ("tiktok", "social", "new_year"),
             ("google", "cpc", "brand"), ("telegram", "referral", "bazaar_bot"))


def intensity(at: datetime) -> float:
    """How busy the apps are at `at`, in (0, 1]: the week's busiest evening is 1."""
    local = at.astimezone(BISHKEK)
    h = local.hour + local.minute / 60
    night = 0.04
    day = (0.25 * _bump(h, 8.5, 1.2) + 0.45 * _bump(h, 13.0, 1.5)
           + 0.35 * _bump(h, 16.5, 2.0) + 1.0 * _bump(h, 20.5, 1.6))
    week = 1.0 if local.weekday() >= 5 else 0.72
    return min(1.0, (night + day) * week)


def _bump(h: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((h - centre) / width) ** 2)


@dataclass
class World:
    products: list[tuple[str, str]]  # (product id, its shop id)
    shops: list[str]
    posts: list[str]  # no social API to read yet: stable random ids


@dataclass
class Stats:
    sessions: int = 0
    events: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    sessions_per_hour: Counter[int] = field(default_factory=Counter)
    batches: int = 0
    errors: int = 0


def discover(client: httpx.Client, rng: random.Random) -> World:
    products: dict[str, str] = {}
    for q in QUERIES:
        r = client.get("/search/products", params={"q": q, "limit": 50})
        if r.status_code == 200:
            for hit in r.json()["items"]:
                products[hit["product_id"]] = hit["shop"]["id"]
    for lat, lon in PLACES:
        r = client.get("/search/products", params={"lat": lat, "lon": lon, "radius_km": 3,
                                                   "limit": 50})
        if r.status_code == 200:
            for hit in r.json()["items"]:
                products[hit["product_id"]] = hit["shop"]["id"]
    if not products:
        print("no products found through the API (seed a catalog first: python -m "
              "marketplace_core.seed); using made-up ids", file=sys.stderr)
        shops = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(20)]
        products = {str(uuid.UUID(int=rng.getrandbits(128), version=4)): rng.choice(shops)
                    for _ in range(200)}
    posts = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(300)]
    pairs = sorted(products.items())
    return World(pairs, sorted({s for _, s in pairs}), posts)


class Session:
    """One app session: a walk through the app producing events on the simulated clock."""

    def __init__(self, rng: random.Random, world: World, start: datetime, install: str,
                 platform: str) -> None:
        self.rng, self.world, self.at = rng, world, start
        self.id = f"s-{rng.getrandbits(64):016x}"
        self.install, self.platform = install, platform
        self.campaign = rng.choice(CAMPAIGNS) if rng.random() < 0.15 else None
        self.events: list[dict[str, Any]] = []

    def _emit(self, event_type: str, surface: str, **fields: Any) -> None:
        self.at += timedelta(seconds=self.rng.uniform(2, 40))
        e: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "event_type": event_type, "occurred_at": self.at.isoformat(timespec="milliseconds"),
            "session_id": self.id, "anonymous_id": self.install, "surface": surface,
            "platform": self.platform, "app_version": "3.2.0", **fields}
        if self.campaign:
            e["utm_source"], e["utm_medium"], e["utm_campaign"] = self.campaign
        self.events.append(e)

    def run(self) -> list[dict[str, Any]]:
        rng, w = self.rng, self.world
        surface = rng.choices(("feed", "map", "explore", "search"), (40, 25, 15, 20))[0]
        steps = rng.randint(3, 25)
        shop: str | None = None
        for _ in range(steps):
            if surface == "search":
                self._emit("search", "search", search_query=rng.choice(QUERIES))
                for pos in sorted(rng.sample(range(20), rng.randint(1, 4))):
                    product, shop = rng.choice(w.products)
                    self._emit("click", "search", target_type="product", target_id=product,
                               position=pos)
                    self._emit("view", "search", target_type="product", target_id=product)
            elif surface == "feed" or surface == "explore":
                for pos in range(rng.randint(2, 8)):
                    self._emit("post_impression", surface, target_type="post",
                               target_id=rng.choice(w.posts), position=pos)
                if rng.random() < 0.5:
                    product, shop = rng.choice(w.products)
                    self._emit("click", surface, target_type="product", target_id=product)
                    self._emit("view", surface, target_type="product", target_id=product)
            elif surface == "map":
                shop = rng.choice(w.shops)
                self._emit("click", "map", target_type="shop", target_id=shop)
                self._emit("view", "map", target_type="shop", target_id=shop)
            roll = rng.random()
            if shop and roll < 0.10:
                lat, lon = rng.choice(PLACES)
                self._emit("route_built", "map", target_type="shop", target_id=shop,
                           lat=round(lat + rng.gauss(0, 0.01), 6),
                           lon=round(lon + rng.gauss(0, 0.01), 6))
            elif shop and roll < 0.14:
                self._emit("call_click", "profile",
                           target_type="shop", target_id=shop)
            elif roll < 0.22:
                product, _ = rng.choice(w.products)
                self._emit(rng.choice(("save", "save", "share", "add_to_cart")), "other",
                           target_type="product", target_id=product)
            if rng.random() < 0.2:
                break
            surface = rng.choices(("feed", "map", "explore", "search"), (30, 25, 15, 30))[0]
        return self.events


def simulate(*, api: str, hours: float, speedup: float, peak: float, seed: int, batch: int,
             retry_rate: float, token: str | None = None,
             client: httpx.Client | None = None) -> Stats:
    """Run the simulation against `api` (or an open `client`, e.g. a test client)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if client is not None:
        return _simulate(client, hours, speedup, peak, seed, batch, retry_rate)
    with httpx.Client(base_url=api, timeout=60, headers=headers) as own:
        return _simulate(own, hours, speedup, peak, seed, batch, retry_rate)


def _simulate(client: httpx.Client, hours: float, speedup: float, peak: float, seed: int,
              batch: int, retry_rate: float) -> Stats:
    rng = random.Random(seed)
    stats = Stats()
    world = discover(client, rng)
    installs = [f"i-{rng.getrandbits(64):016x}" for _ in range(5000)]
    real_start = datetime.now(BISHKEK)
    sim, end = real_start - timedelta(hours=hours), real_start
    step = timedelta(minutes=1)
    started = time.monotonic()
    while sim < end:
        rate = peak * intensity(sim) / 60  # sessions in this simulated minute
        for _ in range(_poisson(rng, rate)):
            install = (rng.choice(installs) if rng.random() < 0.6
                       else f"i-{rng.getrandbits(64):016x}")
            start = sim + timedelta(seconds=rng.uniform(0, 60))
            events = Session(rng, world, start, install,
                             rng.choices(("android", "ios", "web"), (62, 30, 8))[0]).run()
            events = [e for e in events if datetime.fromisoformat(e["occurred_at"]) < end]
            stats.sessions += 1
            stats.sessions_per_hour[start.astimezone(BISHKEK).hour] += 1
            for i in range(0, len(events), batch):
                chunk = events[i:i + batch]
                stats.events.update(e["event_type"] for e in chunk)
                for _ in range(2 if rng.random() < retry_rate else 1):
                    _post(client, chunk, stats)
        sim += step
        wait = started + (sim - (end - timedelta(hours=hours))).total_seconds() / speedup
        delay = wait - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return stats


def _poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p < limit:
            return n
        n += 1


def _post(client: httpx.Client, events: list[dict[str, Any]], stats: Stats) -> None:
    stats.batches += 1
    r = client.post("/events", content=orjson.dumps({"events": events}),
                    headers={"content-type": "application/json"})
    if r.status_code != 202:
        stats.errors += 1
        print(f"POST /events: {r.status_code} {r.text[:200]}", file=sys.stderr)
        return
    for result in r.json()["results"]:
        stats.statuses[result["status"]] += 1
        if result.get("code"):
            stats.codes[result["code"]] += 1


@click.command(help=__doc__)
@click.option("--api", default=None, help="core API base URL (default: from the settings)")
@click.option("--hours", type=float, default=24.0, help="simulated hours, ending now")
@click.option("--speedup", type=float, default=3600.0, help="simulated seconds per second")
@click.option("--peak", type=float, default=600.0,
              help="sessions per simulated hour at the busiest moment of the week")
@click.option("--seed", type=int, default=7)
@click.option("--batch", type=int, default=100, help="events per POST at most")
@click.option("--retry-rate", type=float, default=0.01, help="batches sent twice")
@click.option("--token", default=None, help="a buyer's access token (else guests)")
def main(api: str | None, hours: float, speedup: float, peak: float, seed: int, batch: int,
         retry_rate: float, token: str | None) -> None:
    if not 0 < hours <= 24 * 6:
        raise click.BadParameter("--hours must be within the intake's 7-day window (<= 144)")
    stats = simulate(api=api or get_settings().core_api_url, hours=hours, speedup=speedup,
                     peak=peak, seed=seed, batch=batch, retry_rate=retry_rate, token=token)
    print(f"sessions {stats.sessions}, batches {stats.batches}, errors {stats.errors}")
    print("events:", dict(stats.events.most_common()))
    print("statuses:", dict(stats.statuses), "codes:", dict(stats.codes))
    print("sessions per Bishkek hour:",
          " ".join(f"{h:02d}:{stats.sessions_per_hour[h]}" for h in range(24)))


if __name__ == "__main__":
    main()
