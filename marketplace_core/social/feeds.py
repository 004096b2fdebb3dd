"""Feeds: Following (chronological, pinned first) and Explore (ranked, see ranking.py);
the map of posts (grid clusters by zoom)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.pq import TransactionStatus

from marketplace_core.audit.log import Actor
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.social import visibility
from marketplace_core.social.comments import decode_cursor, encode_cursor
from marketplace_core.social.posts import PostView, load_views
from marketplace_core.social.ranking import ExploreIndex, Request
from marketplace_core.social.ranking import decode_cursor as decode_position
from marketplace_core.social.ranking import encode_cursor as encode_position

_HIDDEN_FOR_ME = ("not exists (select 1 from post_hides h where h.user_id = %(viewer)s::uuid"
                  " and h.post_id = p.id)")


def _no_jit(conn: Connection) -> None:
    """JIT compilation costs more than these short queries (and their row estimates under
    the visibility predicate are poor); off for the caller's transaction."""
    if conn.info.transaction_status == TransactionStatus.INTRANS:
        conn.execute("set local jit = off")


def following(conn: Connection, viewer: Actor, cursor: str | None,
              limit: int) -> tuple[list[PostView], str | None]:
    """Posts of the shops and users the viewer follows: pinned first, then newest first."""
    after: tuple[bool, datetime, UUID] | None = None
    if cursor:
        p, at, pid = decode_cursor(cursor, 3)
        try:
            after = (p == "1", datetime.fromisoformat(at), UUID(pid))
        except ValueError as exc:
            raise ValidationError(ErrorCode.INVALID_CURSOR, "the cursor is malformed") from exc
    params = {**visibility.params(viewer), "limit": limit + 1,
              "c_pinned": after[0] if after else None, "c_at": after[1] if after else None,
              "c_id": after[2] if after else None}
    # one index-ordered scan per followed owner (posts_shop_feed_idx / posts_author_feed_idx),
    # each stopping after `limit + 1` rows, merged: no scan of every followed post
    keyset = ("(p.pinned, p.created_at, p.id)"
              " < (%(c_pinned)s::boolean, %(c_at)s::timestamptz, %(c_id)s::uuid)"
              if after else "true")
    filters = f"{visibility.post_visible_sql('p')} and {_HIDDEN_FOR_ME} and {keyset}"
    order = "order by p.pinned desc, p.created_at desc, p.id desc limit %(limit)s"
    _no_jit(conn)
    rows = conn.execute(
        f"""select x.id, x.pinned, x.created_at from social_follows f
            cross join lateral (
                select p.id, p.pinned, p.created_at from posts p
                where f.target_type = 'shop' and p.shop_id = f.target_id and {filters}
                {order}) x
            where f.follower_id = %(viewer)s and f.target_type = 'shop'
            union all
            select x.id, x.pinned, x.created_at from social_follows f
            cross join lateral (
                select p.id, p.pinned, p.created_at from posts p
                where p.author_id = f.target_id and p.owner_type = 'user' and {filters}
                {order}) x
            where f.follower_id = %(viewer)s and f.target_type = 'user'
            order by 2 desc, 3 desc, 1 desc limit %(limit)s""", params).fetchall()
    page = rows[:limit]
    views = load_views(conn, viewer, [r[0] for r in page])
    nxt = None
    if len(rows) > limit:
        last = page[-1]
        nxt = encode_cursor(["1" if last[1] else "0", last[2].isoformat(), str(last[0])])
    return [views[r[0]] for r in page], nxt


def explore(conn: Connection, index: ExploreIndex, viewer: Actor | None, req: Request,
            cursor: str | None, limit: int, explain: bool, variant: str | None = None
            ) -> tuple[list[PostView], str | None]:
    """The ranked Explore page for `viewer` (None: an anonymous guest), in the control's
    order or a ranking variant's (the viewer's arm of an experiment)."""
    position = decode_position(cursor)
    index.refresh(conn)
    picked: list[dict[str, Any]] = []
    batch = max(limit * 2, 20)
    scanned = position
    views: dict[UUID, PostView] = {}
    for _ in range(8):  # each round fetches more candidates if the filter dropped many
        candidates = index.ranked(req, scanned, batch, variant)
        if not candidates:
            break
        # one query: the viewer's filter and the page's data together
        found = load_views(conn, viewer, [c["post_id"] for c in candidates],
                           check_visible=True, exclude_hidden_for_me=viewer is not None)
        for c in candidates:
            scanned += 1
            if c["post_id"] in found:
                picked.append(c)
                views[c["post_id"]] = found[c["post_id"]]
                if len(picked) == limit:
                    break
        if len(picked) == limit:
            break
        batch *= 2
    if explain and picked:
        stored = dict(conn.execute(
            "select post_id, parts from explore_scores where post_id = any(%s)",
            ([c["post_id"] for c in picked],)).fetchall())
    out = []
    for c in picked:
        view = views[c["post_id"]]
        view.score = c["score"]
        if explain:
            parts = ({"cold_start": c["base"]} if c["cold"]
                     else {k: float(v) for k, v in (stored.get(c["post_id"]) or {}).items()})
            if req.near is not None:
                parts["geo"] = c["geo"]
            if req.tags:
                parts["tags"] = c["tags"]
            if variant is not None and not c["cold"]:
                parts["variant"] = c["extra"]  # the arm's re-weighting, in stored_score
            parts["stored_score"] = 0.0 if c["cold"] else c["base"]
            view.score_parts = parts
        out.append(view)
    more = len(picked) == limit and scanned < index.size
    return out, encode_position(scanned) if more else None


# --- map -----------------------------------------------------------------------------------


def parse_bbox(bbox: str) -> tuple[float, float, float, float]:
    """`min_lon,min_lat,max_lon,max_lat` (WGS84 degrees)."""
    try:
        w, s, e, n = (float(x) for x in bbox.split(","))
    except ValueError as exc:
        raise ValidationError(ErrorCode.INVALID_BBOX,
                              "bbox is min_lon,min_lat,max_lon,max_lat") from exc
    if not (all(math.isfinite(v) for v in (w, s, e, n)) and -180 <= w < e <= 180
            and -90 <= s < n <= 90):
        raise ValidationError(ErrorCode.INVALID_BBOX, "bbox corners are out of order or range")
    return w, s, e, n


def parse_point(value: str) -> tuple[float, float]:
    try:
        lat, lon = (float(x) for x in value.split(","))
    except ValueError as exc:
        raise ValidationError(ErrorCode.INVALID_GEO, "a point is lat,lon") from exc
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        raise ValidationError(ErrorCode.INVALID_GEO, "lat/lon out of range")
    return lat, lon


def cell_degrees(zoom: int) -> float:
    """Grid cell of a zoom level: an eighth of a 256-px map tile (~32 px)."""
    return 360.0 / (2 ** zoom) / 8


def distance_sql(lat: str, lon: str) -> str:
    """Equirectangular distance in km from (%(near_lat)s, %(near_lon)s) (fine within a
    city or a country)."""
    return (f"sqrt(power(({lat}::float8 - %(near_lat)s) * 111.32, 2) + power(({lon}::float8"
            f" - %(near_lon)s) * 111.32 * cos(radians(%(near_lat)s)), 2))")


def cluster_posts(conn: Connection, viewer: Actor | None, bbox: tuple[float, float, float, float],
                  zoom: int, near: tuple[float, float] | None,
                  radius_km: float | None) -> list[dict[str, Any]]:
    cell = cell_degrees(zoom)
    params = {**visibility.params(viewer), "w": bbox[0], "s": bbox[1], "e": bbox[2],
              "n": bbox[3], "cell": cell, "near_lat": near[0] if near else None,
              "near_lon": near[1] if near else None, "radius": radius_km}
    dist = (f" and {distance_sql('p.lat', 'p.lon')} <= %(radius)s"
            if near is not None and radius_km is not None else "")
    hidden = f" and {_HIDDEN_FOR_ME}" if viewer is not None else ""
    _no_jit(conn)
    where = f"""p.lat is not null and p.status <> 'deleted'
              and p.lat between %(s)s::numeric and %(n)s::numeric
              and p.lon between %(w)s::numeric and %(e)s::numeric{hidden}{dist}"""
    # the viewer's own posts, then everyone else's (anti-joins instead of per-row subplans)
    rows = conn.execute(
        f"""select avg(lat)::float8, avg(lon)::float8, count(*),
                   (array_agg(id order by created_at desc))[1]
            from (select p.id, p.lat, p.lon, p.created_at from posts p
                  where {where} and (p.author_id = %(viewer)s::uuid or %(admin)s)
                  union all
                  select p.id, p.lat, p.lon, p.created_at from posts p
                  where {where} and p.author_id is distinct from %(viewer)s::uuid
                    and not %(admin)s and {visibility.post_visible_to_others_sql('p')}) v
            group by floor(lon::float8 / %(cell)s), floor(lat::float8 / %(cell)s)
            order by count(*) desc limit 1000""", params).fetchall()
    return [{"lat": la, "lon": lo, "count": n, "id": pid if n == 1 else None}
            for la, lo, n, pid in rows]
