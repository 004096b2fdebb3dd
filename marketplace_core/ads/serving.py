"""Serving ads (issue 12 §2): which campaigns win the ad slots of a feed or search page.

Snapshot (`AdServer`, one per API process, like social.ranking.ExploreIndex): every
servable campaign — status active, today (Asia/Bishkek) within its schedule, a creative
still visible (a public, active, approved post for a boost; live products with a live
variant for sponsored search) — with its targeting, today's delivery counters (summed
over the shards of `ad_delivery`) and its CTR over the last 7 days. Two tiers, reloaded
on a background thread while the previous snapshot keeps serving: the counters every
ADS_SNAPSHOT_REFRESH_SECONDS (2 s, one small aggregate); the rest (`Base`: campaigns,
creatives, CTR, categories, the boosted posts as guests see them) when an active
campaign changed, or every 10 s. Value and pacing are precomputed per snapshot and the
campaigns kept in rank order, so a request compares floats and stops at the first few
eligible ones; sponsored products are indexed by word prefix. A request never runs
campaign SQL: it ranks in memory, then makes ONE statement (`ad_grant_slots`, on its own
autocommit connection) that checks and counts the frequency cap.

Eligibility of a campaign for a request:
- surface: boosts in Explore and Following, sponsored products in search, banners in
  `GET /ads/banners` (their image still a processed upload);
- money: estimated spend today < daily budget, spent + estimated today < total budget;
  pacing: estimated spend today < daily_budget × min(1, elapsed share of the Bishkek day ×
  ADS_PACING_SLACK) + one unit (a click's bid for CPC, a thousandth of the bid for CPM), so
  a budget is spread over the day instead of burnt by 10 am. Fixed-per-day campaigns paid
  the day whatever the delivery: no pacing, only the total budget must cover the day;
- targeting, per dimension the surface can express (a dimension it cannot express is not
  checked): a location (markets or radius) needs the request's location — Explore's
  `near` (and the banners'), search's `lat`/`lon` or the market of its `shop_id` — and a
  request without one does not get location-targeted ads; a request point is "in" a
  market within ADS_MARKET_RADIUS_KM of it. Tags (Explore, banners): one of the request's
  `tags`. Categories
  (search): the category filter or a category of the page's results, or one of their
  ancestors. Following expresses none of them;
- search: a sponsored product must match the query (every query word shares a prefix
  with a word of the product's name: at least all but 2 letters of the shorter, at
  least 3 — "смартфн"/"смартфон", "чехлы"/"чехол") and the page's filters (category
  subtree, price range on live variants, shop, radius); it may also be an organic result
  of the page (as on any marketplace);
- a boosted post already on the feed page is not repeated.

Ranking by expected KGS per impression: CPC bid × expected CTR, the CTR smoothed
toward a prior, (clicks + ADS_CTR_PRIOR × ADS_CTR_PRIOR_WEIGHT) / (impressions +
ADS_CTR_PRIOR_WEIGHT); CPM bid / 1000; fixed per day bid / ADS_FIXED_DAILY_REFERENCE_
IMPRESSIONS. Ties go to the campaign with less delivery today (rotation).

Frequency cap (ADS_FREQUENCY_CAP_PER_DAY slots per viewer, campaign and Bishkek day,
across API processes): checked and counted at serve time by `ad_grant_slots` — an
atomic upsert per candidate in rank order inside one statement, so two processes
serving the same viewer at once cannot both pass the cap (the row lock orders them).
It counts served slots, not reported impressions: a slot served but never seen still
uses the cap (never more than the cap is SHOWN, at the price of sometimes fewer).
The alternative (counting at impression-report time, a cached per-viewer read at serve
time) keeps the hot path read-only but lets a fast scroller see more than the cap until
the reports and the cache catch up. Measured on the shared 2-core machine (load average
~33): the cap statement p50 1.9 ms with `synchronous_commit` off for its implicit
transaction (6.0 ms with it on: why it is off — a count lost in a crash is at worst one
ad too many, never money) against 0.4 ms for a bare `select 1`; the whole ad step is
that round trip plus < 1 ms of Python (bench/ad_selection.py, bench/README.md). The
pacing counters lag by one snapshot (≤ 2 s of delivery can overshoot a daily budget;
billing caps the charge at the budget).

Viewer: a signed-in account's pseudonym ("u"), a guest's `X-Session-Id` ("s"), or, for a
guest without one, a keyed hash of the client address ("s", "a…").
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.ads import tokens
from marketplace_core.ads.targeting import MARKETS
from marketplace_core.ads.wallet import day_start, today
from marketplace_core.catalog import listings as catalog_listings
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection

log = logging.getLogger("marketplace_core.ads")

LABEL = "Реклама"
SHARDS = 16
_WORD = re.compile(r"\w+", re.UNICODE)
_SESSION = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


# --- the snapshot ------------------------------------------------------------------------


@dataclass(frozen=True)
class SponsoredProduct:
    id: UUID
    names: dict[str, str]  # language -> name (ru always)
    words: frozenset[str]
    category_id: UUID | None
    shop_name: str
    market: str | None
    shop_lat: float | None
    shop_lon: float | None
    prices: tuple[Decimal, ...]  # live variants, ascending
    is_bundle: bool

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names["ru"]


@dataclass(frozen=True)
class LiveCampaign:
    id: UUID
    merchant_id: UUID
    shop_id: UUID
    type: str
    pricing: str
    bid: Decimal
    daily_budget: Decimal
    total_budget: Decimal
    spent: Decimal
    markets: frozenset[str]
    geo: tuple[float, float, float] | None  # lat, lon, radius_km
    category_ids: frozenset[UUID]
    tags: frozenset[str]
    post_id: UUID | None
    products: tuple[SponsoredProduct, ...]
    headline: str | None = None
    banner: dict[str, Any] | None = None  # {media_id, width, height}
    served_today: int = 0
    impressions_today: int = 0
    clicks_today: int = 0
    spend_today: Decimal = Decimal(0)
    ctr: float = 0.02
    # set by the Snapshot: the ranking value and when today's pacing lets it serve (epoch s)
    rank_value: float = 0.0
    eligible_from: float = 0.0

    @property
    def located(self) -> bool:
        return bool(self.markets) or self.geo is not None

    def value(self) -> float:
        """Expected KGS per impression (the ranking)."""
        s = get_settings()
        if self.pricing == "cpc":
            return float(self.bid) * self.ctr
        if self.pricing == "cpm":
            return float(self.bid) / 1000.0
        return float(self.bid) / s.ads_fixed_daily_reference_impressions

    def unit(self) -> Decimal:
        return self.bid if self.pricing == "cpc" else self.bid / 1000


@dataclass
class Snapshot:
    """Campaigns best first with their value and pacing precomputed (a request then only
    compares floats and stops at the first few eligible ones)."""

    campaigns: list[LiveCampaign] = field(default_factory=list)
    parents: dict[UUID, UUID | None] = field(default_factory=dict)
    day: date | None = None
    loaded_at: float = 0.0
    # the boosted posts as a guest sees them (public, active, approved): a guest's page
    # takes its ad items from here instead of a query (counts lag by one reload)
    guest_views: dict[UUID, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        day = self.day or today()
        prepared = [replace(c, rank_value=c.value(), eligible_from=pacing_from(c, day))
                    for c in self.campaigns]
        prepared.sort(key=lambda c: (-c.rank_value, c.served_today, str(c.id)))
        self.campaigns = prepared
        # sponsored products by the first 3 letters of their words: a query only checks
        # the products that share a prefix with each of its words
        self.by_prefix: dict[str, set[UUID]] = {}
        for c in prepared:
            for p in c.products:
                for w in p.words:
                    self.by_prefix.setdefault(w[:3], set()).add(p.id)

    def query_candidates(self, query_words: list[str]) -> set[UUID] | None:
        """Products that may match every query word (None: no query, all may)."""
        if not query_words:
            return None
        found: set[UUID] | None = None
        for t in query_words:
            ids = self.by_prefix.get(t[:3], set())
            found = set(ids) if found is None else found & ids
            if not found:
                return set()
        return found

    def ancestors(self, category_id: UUID | None) -> set[UUID]:
        """The category and its ancestors (bounded: the tree is shallow)."""
        out: set[UUID] = set()
        current = category_id
        while current is not None and current not in out and len(out) < 100:
            out.add(current)
            current = self.parents.get(current)
        return out


# Today's active campaigns; a boost's post must still be public, active and approved, a
# banner's image a processed upload (both asked of social in `_servable`).
_CAMPAIGNS_SQL = """
select c.id, c.merchant_id, c.shop_id, c.type, c.pricing, c.bid, c.daily_budget,
       c.total_budget, c.spent, c.targeting, c.post_id, c.product_ids, c.headline, c.banner
from ad_campaigns c
where c.status = 'active' and c.start_date <= %(day)s and c.end_date >= %(day)s"""

_DELIVERY_SQL = """
select campaign_id, sum(served), sum(impressions), sum(clicks), sum(spend)
from ad_delivery where day = %s and campaign_id = any(%s) group by campaign_id"""

_CTR_SQL = """
select campaign_id, sum(impressions), sum(clicks)
from ad_delivery where day > %s and day <= %s and campaign_id = any(%s)
group by campaign_id"""


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower().replace("ё", "е")) if len(w) >= 2]


def _word_match(term: str, word: str) -> bool:
    need = max(3, min(len(term), len(word)) - 2)
    if min(len(term), len(word)) < 3:
        return term == word
    return term[:need] == word[:need]


def matches_query(query_words: list[str], product: SponsoredProduct) -> bool:
    return all(any(_word_match(t, w) for w in product.words) for t in query_words)


BASE_MAX_AGE_S = 10.0
_VERSION_SQL = ("select count(*), max(updated_at) from ad_campaigns"
                " where status = 'active'")


@dataclass
class Base:
    """The slow-changing part of the snapshot: campaigns with targeting, creatives and
    7-day CTR, categories, guest views. Reloaded when an active campaign changed (count
    and latest `updated_at`), the day changed, or it is BASE_MAX_AGE_S old."""

    campaigns: list[LiveCampaign]
    parents: dict[UUID, UUID | None]
    guest_views: dict[UUID, Any]
    day: date
    version: tuple[Any, ...]
    loaded_at: float


def campaign_version(conn: Connection) -> tuple[Any, ...]:
    row = conn.execute(_VERSION_SQL).fetchone()
    return tuple(row) if row else ()


def _banner_media_id(banner: Any) -> UUID | None:
    try:
        return UUID(str(banner["media_id"])) if banner and banner.get("media_id") else None
    except (ValueError, AttributeError):
        return None


def _servable(conn: Connection, rows: list[Any]) -> list[Any]:
    """The campaigns whose creative can be shown: a boost's post public, active and
    approved; a banner's image ready."""
    from marketplace_core.social import media, posts

    boosted = posts.public_post_ids(
        conn, list({r[10] for r in rows if r[3] == "boost" and r[10] is not None}))
    ready = media.ready_media_ids(conn, list({
        m for r in rows if r[3] == "banner" and (m := _banner_media_id(r[13])) is not None}))
    return [r for r in rows
            if (r[3] != "boost" or r[10] in boosted)
            and (r[3] != "banner" or _banner_media_id(r[13]) in ready)]


def load_base(conn: Connection, day: date) -> Base:
    from marketplace_core.ads.targeting import from_json
    from marketplace_core.social.posts import load_views

    s = get_settings()
    version = campaign_version(conn)
    rows = _servable(conn, conn.execute(_CAMPAIGNS_SQL, {"day": day}).fetchall())
    ids = [r[0] for r in rows]
    product_ids = list({pid for r in rows if r[3] == "search" for pid in r[11]})
    products: dict[UUID, SponsoredProduct] = {}
    for p in catalog_listings.listings(conn, product_ids).values():
        if not p.prices:
            continue  # no live variant: not for sale
        products[p.product_id] = SponsoredProduct(
            id=p.product_id, names=p.names, words=frozenset(words(" ".join(p.names.values()))),
            category_id=p.category_id, shop_name=p.shop_name, market=p.market,
            shop_lat=p.shop_lat, shop_lon=p.shop_lon, prices=p.prices, is_bundle=p.is_bundle)
    ctr = {r[0]: (int(r[1]), int(r[2])) for r in conn.execute(
        _CTR_SQL, (day - timedelta(days=7), day, ids)).fetchall()} if ids else {}
    prior, weight = float(s.ads_ctr_prior), s.ads_ctr_prior_weight
    campaigns: list[LiveCampaign] = []
    for r in rows:
        t = from_json(r[9])
        own_products = tuple(products[p] for p in r[11] if p in products)
        if r[3] == "search" and not own_products:
            continue
        imp7, clk7 = ctr.get(r[0], (0, 0))
        campaigns.append(LiveCampaign(
            id=r[0], merchant_id=r[1], shop_id=r[2], type=r[3], pricing=r[4], bid=r[5],
            daily_budget=r[6], total_budget=r[7], spent=r[8],
            markets=frozenset(t.markets),
            geo=(float(t.geo.lat), float(t.geo.lon), float(t.geo.radius_km)) if t.geo else None,
            category_ids=frozenset(t.category_ids), tags=frozenset(t.tags),
            post_id=r[10], products=own_products, headline=r[12], banner=r[13],
            ctr=(clk7 + prior * weight) / (imp7 + weight)))
    parents = catalog.category_parents(conn)
    guest_views = load_views(conn, None, [c.post_id for c in campaigns if c.post_id],
                             check_visible=True)
    return Base(campaigns, parents, guest_views, day, version, time.monotonic())


def with_delivery(conn: Connection, base: Base) -> Snapshot:
    """The base with today's delivery counters (one small aggregate over the shards)."""
    ids = [c.id for c in base.campaigns]
    delivery = {r[0]: r[1:] for r in conn.execute(
        _DELIVERY_SQL, (base.day, ids)).fetchall()} if ids else {}
    campaigns = []
    for c in base.campaigns:
        served, impressions, clicks, spend = delivery.get(c.id, (0, 0, 0, Decimal(0)))
        spend = Decimal(spend)
        if c.pricing == "fixed_daily":  # the day is paid once anything was served
            spend = c.bid if served or impressions else Decimal(0)
        campaigns.append(replace(c, served_today=int(served), impressions_today=int(
            impressions), clicks_today=int(clicks), spend_today=spend))
    return Snapshot(campaigns, base.parents, base.day, time.monotonic(), base.guest_views)


def load_snapshot(conn: Connection, now: datetime | None = None) -> Snapshot:
    """Every servable campaign with today's delivery (a few small indexed queries)."""
    return with_delivery(conn, load_base(conn, today(now or datetime.now(UTC))))


# --- the request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    kind: str  # u | s
    id: str
    user_id: UUID | None = None
    merchant_ids: frozenset[UUID] = frozenset()

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC (the pseudonym secret) of a network address or device id: never the value."""
    key = get_settings().pseudonym_secret.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def valid_session(value: str | None) -> str | None:
    return value if value is not None and _SESSION.match(value) else None


def resolve_viewer(conn: Connection, user: Any | None, session_id: str | None,
                   address: str | None) -> Viewer:
    """Who the ad is served to (see the module doc)."""
    from marketplace_core.accounts import ownership, pseudonyms

    if user is not None:
        merchants = (frozenset(ownership.merchant_ids_of(conn, user.id))
                     if user.role == "seller" else frozenset())
        return Viewer("u", pseudonyms.pseudonym(conn, user.id), user.id, merchants)
    session = valid_session(session_id)
    if session is not None:
        return Viewer("s", session)
    return Viewer("s", "a" + keyed_hash(address or "", "addr")[:31])


@dataclass
class Context:
    """What the request tells about its viewer's interest (see the module doc)."""

    placement: str  # explore | following | search
    near: tuple[float, float] | None = None
    market: str | None = None  # a market key known from the request (search's shop_id)
    tags: list[str] = field(default_factory=list)
    categories: set[UUID] = field(default_factory=set)  # filter + results (no ancestors)
    query: str | None = None
    category_filter: UUID | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    shop_id: UUID | None = None
    radius_km: float | None = None
    lang: str = "ru"
    exclude: set[UUID] = field(default_factory=set)  # targets already on the page


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (a[0] - b[0]) * 111.32
    dx = (a[1] - b[1]) * 111.32 * math.cos(math.radians(a[0]))
    return math.sqrt(dx * dx + dy * dy)


def markets_near(point: tuple[float, float]) -> set[str]:
    limit = float(get_settings().ads_market_radius_km)
    return {k for k, m in MARKETS.items()
            if distance_km(point, (float(m.lat), float(m.lon))) <= limit}


def market_key(shop_market: str | None) -> str | None:
    """The targeting key of a shop's `market` (stored as the market's name)."""
    if not shop_market:
        return None
    low = shop_market.strip().lower()
    for key, m in MARKETS.items():
        if low in (key, m.name.lower()):
            return key
    return None


def _located_ok(c: LiveCampaign, ctx: Context, near_markets: set[str]) -> bool:
    if not c.located or ctx.placement == "following":
        return True
    if c.markets:
        here = set(near_markets)
        if ctx.market:
            here.add(ctx.market)
        return bool(c.markets & here)
    assert c.geo is not None
    return ctx.near is not None and distance_km(ctx.near, c.geo[:2]) <= c.geo[2]


def pacing_from(c: LiveCampaign, day: date) -> float:
    """From when (epoch seconds) on `day` the money rules of the module doc let `c` serve,
    on the snapshot's counters: spend today < daily × min(1, elapsed share × slack) + unit
    holds once elapsed share > (spend today − unit) / (daily × slack); +inf if a budget
    is spent."""
    start = day_start(day).timestamp()
    left = c.total_budget - c.spent - c.spend_today
    if c.pricing == "fixed_daily":
        ok = left >= 0 if c.spend_today else left >= c.bid
        return start - 1 if ok else math.inf
    if c.spend_today >= c.daily_budget or left <= 0:
        return math.inf
    ahead = c.spend_today - c.unit()
    if ahead < 0:
        return start - 1
    share = ahead / (c.daily_budget * get_settings().ads_pacing_slack)
    return start + 86400.0 * float(share)


def paced_ok(c: LiveCampaign, now: datetime) -> bool:
    """The money rules of the module doc at `now`."""
    return now.timestamp() > pacing_from(c, today(now))


def _product_ok(p: SponsoredProduct, ctx: Context, qwords: list[str],
                snap: Snapshot, allowed: set[UUID] | None) -> bool:
    if p.id in ctx.exclude or (allowed is not None and p.id not in allowed):
        return False
    if qwords and not matches_query(qwords, p):
        return False
    if ctx.category_filter is not None and ctx.category_filter not in snap.ancestors(
            p.category_id):
        return False
    if ctx.price_min is not None or ctx.price_max is not None:
        low = ctx.price_min if ctx.price_min is not None else Decimal("-1")
        high = ctx.price_max if ctx.price_max is not None else Decimal("1e12")
        if not any(low <= price <= high for price in p.prices):
            return False
    far = ctx.near is not None and ctx.radius_km is not None and (
        p.shop_lat is None or p.shop_lon is None
        or distance_km(ctx.near, (p.shop_lat, p.shop_lon)) > ctx.radius_km)
    return not far


@dataclass(frozen=True)
class Candidate:
    campaign: LiveCampaign
    target_id: UUID | None  # None: a banner
    product: SponsoredProduct | None = None


def rank(snap: Snapshot, ctx: Context, now: datetime | None = None,
         limit: int | None = None) -> list[Candidate]:
    """Eligible campaigns for the request, best first (one target each), the first `limit`
    (all by default): the snapshot is already in rank order, so this stops early."""
    now_ts = (now or datetime.now(UTC)).timestamp()
    want = {"search": "search", "banner": "banner"}.get(ctx.placement, "boost")
    near_markets = markets_near(ctx.near) if ctx.near is not None else set()
    qwords = words(ctx.query or "")[:10]
    allowed = snap.query_candidates(qwords) if want == "search" else None
    if allowed is not None and not allowed:
        return []
    req_categories: set[UUID] = set()
    for c_id in ctx.categories:
        req_categories |= snap.ancestors(c_id)
    tags = set(ctx.tags)
    ranked: list[Candidate] = []
    seen: set[UUID] = set()
    for c in snap.campaigns:
        if limit is not None and len(ranked) >= limit:
            break
        if c.type != want or now_ts <= c.eligible_from or not _located_ok(c, ctx,
                                                                         near_markets):
            continue
        if ctx.placement in ("explore", "banner") and c.tags and not c.tags & tags:
            continue
        if ctx.placement == "search" and c.category_ids and not c.category_ids & req_categories:
            continue
        if want == "boost":
            if c.post_id is None or c.post_id in ctx.exclude:
                continue
            cand = Candidate(c, c.post_id)
        elif want == "banner":
            cand = Candidate(c, None)
        else:
            if ctx.shop_id is not None and c.shop_id != ctx.shop_id:
                continue
            product = next((p for p in c.products
                            if _product_ok(p, ctx, qwords, snap, allowed)), None)
            if product is None:
                continue
            cand = Candidate(c, product.id, product)
        key = cand.target_id or c.id
        if key not in seen:
            seen.add(key)
            ranked.append(cand)
    return ranked


def parse_slots(text: str) -> list[int]:
    try:
        slots = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        return []
    return [s for s in slots if 0 <= s <= 1000]


def grant(conn: Connection, viewer: Viewer, candidates: list[Candidate], need: int,
          day: date) -> list[Candidate]:
    """The candidates the frequency cap lets through (counted), at most `need`."""
    if not candidates or need <= 0:
        return []
    # The page's transaction now writes: its commit need not wait for the WAL flush (a
    # count lost in a crash lets a viewer see one ad more; never money). Same round trip.
    row = conn.execute(
        "select set_config('synchronous_commit', 'off', true),"
        " ad_grant_slots(%s, %s, %s, %s, %s, %s)",
        (day, viewer.key[:80], get_settings().policy.ads_frequency_cap_per_day,
         [c.campaign.id for c in candidates], need, random.randrange(SHARDS)),
        prepare=True).fetchone()
    granted = set(row[1]) if row and row[1] else set()
    return [c for c in candidates if c.campaign.id in granted][:need]


@dataclass(frozen=True)
class ServedAd:
    position: int
    candidate: Candidate
    token: str
    own_ad: bool

    @property
    def click_url(self) -> str:
        return f"/ads/click/{self.token}"

    def out(self) -> dict[str, Any]:
        return {"label": LABEL, "token": self.token, "click_url": self.click_url,
                "own_ad": self.own_ad}


def _token(cand: Candidate, placement: str, position: int, viewer: Viewer,
           now: datetime) -> tuple[str, bool]:
    c = cand.campaign
    own = c.merchant_id in viewer.merchant_ids
    served_ms = int(now.timestamp() * 1000)
    t = tokens.AdToken(
        impression_id=uuid.uuid4(), campaign_id=c.id, merchant_id=c.merchant_id,
        shop_id=c.shop_id, campaign_type=c.type, placement=placement, pricing=c.pricing,
        price=c.bid, target_type={"boost": "post", "search": "product"}.get(c.type, "banner"),
        target_id=cand.target_id, position=position, viewer_kind=viewer.kind,
        viewer=viewer.id[:64], served_at_ms=served_ms,
        expires_at_ms=served_ms + get_settings().ads_token_ttl_seconds * 1000, own_ad=own)
    return tokens.sign(t), own


class AdServer:
    """One per API process: the snapshot and the selection of a page's ads. `pool`
    (autocommit connections: the app's read pool) reloads the snapshot in the background
    and runs the frequency-cap statement; without it (tests) both use the request's
    connection."""

    def __init__(self, pool: Any | None = None, refresh_s: float | None = None) -> None:
        self.pool = pool
        self.refresh_s = (refresh_s if refresh_s is not None
                          else get_settings().ads_snapshot_refresh_seconds)
        self.snapshot: Snapshot | None = None
        self._base: Base | None = None
        self._loading = False
        self._lock = threading.Lock()

    def refresh(self, conn: Connection) -> None:
        """Reload now: the counters always, the base when it changed (see `Base`)."""
        day = today()
        base = self._base
        if (base is None or base.day != day
                or time.monotonic() - base.loaded_at >= BASE_MAX_AGE_S
                or campaign_version(conn) != base.version):
            base = self._base = load_base(conn, day)
        self.snapshot = with_delivery(conn, base)

    def _background(self) -> None:
        try:
            assert self.pool is not None
            with self.pool.connection() as conn:
                self.refresh(conn)
        except Exception:  # keep serving the previous snapshot; retried next request
            log.exception("ads snapshot reload failed")
        finally:
            self._loading = False

    def current(self, conn: Connection) -> Snapshot:
        snap = self.snapshot
        stale = (snap is None or time.monotonic() - snap.loaded_at >= self.refresh_s
                 or snap.day != today())
        if stale:
            with self._lock:
                if self.snapshot is None or self.pool is None:
                    self.refresh(conn)
                elif not self._loading:
                    self._loading = True
                    threading.Thread(target=self._background, name="ads-snapshot",
                                     daemon=True).start()
        assert self.snapshot is not None
        return self.snapshot

    def select(self, conn: Connection, viewer: Viewer, ctx: Context, page_len: int,
               slots: Iterable[int], now: datetime | None = None) -> list[ServedAd]:
        """Ads for a page of `page_len` organic items: slot p is used when p <=
        page_len (after the first p organic items). Returns them by position."""
        at = now or datetime.now(UTC)
        usable = [p for p in slots if p <= page_len]
        if not usable:
            return []
        snap = self.current(conn)
        if not snap.campaigns:
            return []
        ranked = rank(snap, ctx, at, limit=len(usable) * 4)
        if self.pool is not None:
            # its own autocommit statement: the cap's row locks last that statement, not
            # the whole page's transaction (a hot campaign's counters never queue pages)
            with self.pool.connection() as own:
                granted = grant(own, viewer, ranked, len(usable), today(at))
        else:
            granted = grant(conn, viewer, ranked, len(usable), today(at))
        out = []
        for position, cand in zip(usable, granted, strict=False):
            token, own = _token(cand, ctx.placement, position, viewer, at)
            out.append(ServedAd(position, cand, token, own))
        return out
