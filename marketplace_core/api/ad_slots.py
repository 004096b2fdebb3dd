"""Ads in the API's pages: the process's ad server and reporter, and the merge of ads into
a feed page (boosted posts) or a search page (sponsored products) at the configured slots
(marketplace_core.ads.serving). An ad item is the same item type with `ad` set; pages get
longer by the ads they carry. Guests may send `X-Session-Id` (their app session or
install id, ≤ 64 of [A-Za-z0-9._:-]) so the frequency cap follows them."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from infra.settings import get_settings
from marketplace_core.ads.reporting import AdEventReporter
from marketplace_core.ads.serving import AdServer, Context, ServedAd, parse_slots, resolve_viewer
from marketplace_core.api.deps import client_ip
from marketplace_core.api.schemas.ad_slot import AdOut
from marketplace_core.api.schemas.catalog import SearchHitOut, SearchShopOut
from marketplace_core.api.schemas.social import PostOut
from marketplace_core.db import Connection
from marketplace_core.social.posts import load_views

SESSION_HEADER = "x-session-id"
DEVICE_HEADER = "x-device-id"


def ad_server(request: Request) -> AdServer:
    state = request.app.state
    server: AdServer | None = getattr(state, "ad_server", None)
    if server is None:
        server = state.ad_server = AdServer(pool=getattr(state, "read_pool", None))
    return server


def ad_reporter(request: Request) -> AdEventReporter:
    state = request.app.state
    reporter: AdEventReporter | None = getattr(state, "ad_events", None)
    if reporter is None:
        reporter = state.ad_events = AdEventReporter()
    return reporter


def lenient_user(request: Request) -> Any | None:
    """The caller if a valid bearer token came, else None (search stays open to clients
    with a stale token: ads only need to know who is looking, not to refuse anyone)."""
    from fastapi.security import HTTPAuthorizationCredentials

    from marketplace_core.api.auth import _authenticate

    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    try:
        return _authenticate(request, HTTPAuthorizationCredentials(
            scheme="Bearer", credentials=header[7:].strip()))
    except Exception:
        return None


def _select(conn: Connection, request: Request, user: Any | None, ctx: Context,
            page_len: int, slots: str) -> list[ServedAd]:
    s = get_settings()
    if not s.ads_serving_enabled:
        return []
    viewer = resolve_viewer(conn, user, request.headers.get(SESSION_HEADER),
                            client_ip(request))
    return ad_server(request).select(conn, viewer, ctx, page_len, parse_slots(slots))


def posts_with_ads(conn: Connection, request: Request, user: Any | None, ctx: Context,
                   views: list[Any]) -> list[PostOut]:
    """The page's posts with boosted posts at the feed slots: for a signed-in viewer only
    those it may see, checked in Postgres like the page's own posts; for a guest the
    snapshot's public views (no query)."""
    out = [PostOut.of(v) for v in views]
    ctx.exclude = {v.id for v in views}
    served = _select(conn, request, user, ctx, len(views), get_settings().ads_feed_slots)
    if not served:
        return out
    snapshot = ad_server(request).snapshot
    post_ids = [a.candidate.target_id for a in served if a.candidate.target_id is not None]
    if user is None and snapshot is not None:  # a guest: the snapshot's public views
        found = {pid: snapshot.guest_views[pid] for pid in post_ids
                 if pid in snapshot.guest_views}
    else:  # blocks, hidden posts, own reactions: checked now, in Postgres
        found = load_views(conn, user, post_ids, check_visible=True,
                           exclude_hidden_for_me=True)
    for ad in served:  # ascending positions: each lands at its index
        view = found.get(ad.candidate.target_id) if ad.candidate.target_id else None
        if view is None:
            continue  # hidden from this viewer since the snapshot: the slot stays empty
        item = PostOut.of(view)
        item.ad = AdOut(**ad.out())
        out.insert(min(ad.position, len(out)), item)
    return out


def hits_with_ads(conn: Connection, request: Request, ctx: Context,
                  hits: list[SearchHitOut]) -> list[SearchHitOut]:
    """The search page with sponsored products at the search slots (a sponsored product
    may also be among the organic results, as on any marketplace)."""
    ctx.categories |= {h.category_id for h in hits if h.category_id is not None}
    served = _select(conn, request, lenient_user(request), ctx, len(hits),
                     get_settings().ads_search_slots)
    out = list(hits)
    for ad in served:
        p = ad.candidate.product
        assert p is not None
        price = next((x for x in p.prices if (ctx.price_min is None or x >= ctx.price_min)
                      and (ctx.price_max is None or x <= ctx.price_max)), p.prices[0])
        out.insert(min(ad.position, len(out)), SearchHitOut(
            product_id=p.id, name=p.name(ctx.lang), category_id=p.category_id,
            shop=SearchShopOut(id=ad.candidate.campaign.shop_id, name=p.shop_name,
                               market=p.market),
            price_min=price, is_bundle=p.is_bundle, distance_km=None, score=0.0,
            ad=AdOut(**ad.out())))
    return out
