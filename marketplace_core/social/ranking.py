"""Explore: the ranking the lake writes back, and its serving.

Writing (the lake's job, every 5 minutes): `replace_explore_scores(conn, scores)` replaces
the whole `explore_scores` table in the caller's transaction (delete + COPY), every row
stamped with one `computed_at`.

Serving (`ExploreIndex`, one per API process; the API never queries ClickHouse):
- a snapshot of every candidate post in memory as numpy arrays: the stored score (or the
  cold-start score of a post the lake has not scored yet), lat/lon, tag ids (CSR). Public,
  active, approved posts only. The scored segment is reloaded when `max(computed_at)`
  changes (checked at most every `check_every_s` seconds, an index-only query); the small
  cold-start segment (unscored posts of the last 30 days) every `cold_every_s` seconds.
- a request's order = stored score + request-time parts: `geo` (proximity to `near`,
  GEO_WEIGHT × (1 − distance / GEO_RADIUS_KM), 0 beyond) and `tags` (TAG_WEIGHT × share of
  the requested tags the post carries). Exact top-k without scoring everything: the
  request-time parts are bounded, so only posts whose stored score is within that bound of
  the current k-th best can enter (a threshold loop over the score-sorted arrays).
- the viewer's filter is applied last, in Postgres, on the few candidate ids of the page
  (deleted / hidden / not public / flagged / shadow-banned authors / blocked shops and
  users / posts hidden for the viewer): state changes count at once, not at the next
  snapshot. Pages that lose candidates fetch more.
- cold start: a post without a stored score scores COLD_START_WEIGHT × 0.5^(age_h / 12)
  (freshness only) until the lake scores it.
- ranking variants (A/B tests, marketplace_core.experiments): a variant re-weights parts
  of the stored score, base' = score + Σ extra_weight[part] × part (the parts the lake
  stored beside the score). Each declared variant gets its own score-sorted copy of the
  stored segment, built with the snapshot (so a request of any arm is as fast as the
  control's, at the price of one more segment in memory per variant); unscored (cold)
  posts have no parts and rank the same in every variant.
The cursor is the position in the ranking (plus the snapshot's version); after a reload
a page may repeat or skip a few posts, which an endless feed tolerates.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError

GEO_WEIGHT = 0.3
GEO_RADIUS_KM = 10.0
TAG_WEIGHT = 0.5
COLD_START_WEIGHT = 0.3
COLD_START_HALF_LIFE_H = 12.0
COLD_START_MAX_AGE_DAYS = 30
COLD_START_LIMIT = 50_000
LOAD_CHUNK = 50_000

# Explore's ranking variants: arm name -> extra weight per stored part. `ctr_x2` is the
# treatment of the experiment `explore_ranking_v2`: the lake's score weighs ctr 10
# (dbt/models/marts/social/explore_post_scores.sql), the variant adds 10 more, so
# ctr counts double: ranking by what people tap, not only by what they like.
VARIANT_WEIGHTS: dict[str, dict[str, float]] = {
    "ctr_x2": {"ctr": 10.0},
}


@dataclass(frozen=True)
class ExploreScore:
    post_id: UUID
    score: float
    parts: dict[str, float]


def replace_explore_scores(conn: Connection, scores: Iterable[ExploreScore]) -> int:
    """Replace the whole ranking in the caller's transaction; returns the rows written."""
    row = conn.execute("select clock_timestamp()").fetchone()
    assert row is not None
    computed_at = row[0]
    conn.execute("delete from explore_scores")
    n = 0
    with conn.cursor() as cur, cur.copy(
            "copy explore_scores (post_id, score, parts, computed_at) from stdin") as copy:
        for s in scores:
            if not math.isfinite(s.score):
                raise ValueError(f"score of {s.post_id} is not finite")
            copy.write_row((s.post_id, s.score, json.dumps(
                {k: float(v) for k, v in s.parts.items()}), computed_at))
            n += 1
    return n


# --- the in-process snapshot ---------------------------------------------------------------


@dataclass
class Segment:
    """Posts sorted by base score (descending); positions index every array."""

    ids: np.ndarray        # (n, 16) uint8, UUID bytes
    base: np.ndarray       # float64, descending
    lat: np.ndarray        # float64, nan without geo
    lon: np.ndarray
    geo_pos: np.ndarray    # positions of the posts with a geo point (ascending)
    postings: dict[int, np.ndarray]  # tag id -> positions carrying it (ascending)
    cold: bool
    extra: np.ndarray | None = None  # a variant's added score per position (else None)

    @property
    def n(self) -> int:
        return int(self.base.shape[0])

    def uuid(self, i: int) -> UUID:
        return UUID(bytes=self.ids[i].tobytes())


@dataclass
class Request:
    tags: list[str] = field(default_factory=list)
    near: tuple[float, float] | None = None


_STORED_SQL = """
    select s.post_id, s.score, p.lat::float8, p.lon::float8, p.tags, {parts}
    from explore_scores s join posts p on p.id = s.post_id
    where p.status = 'active' and p.visibility = 'public' and p.moderation_status = 'ok'"""


def _stored_sql(parts: list[str]) -> str:
    """The snapshot's query with the stored parts the variants re-weight (0 if missing).
    Part names come from VARIANT_WEIGHTS (code, not input), and are quoted anyway."""
    cols = ", ".join(
        "coalesce((s.parts ->> '{}')::float8, 0)".format(name.replace("'", "''"))
        for name in parts) or "0::float8"
    return _STORED_SQL.format(parts=cols)
# Unscored posts: those newer than the lake's last computation (minus a margin for its
# latency), or of the last 30 days while the lake has written nothing yet.
_COLD_SQL = """
    select p.id, %(w)s * power(0.5, extract(epoch from now() - p.created_at) / 3600.0 / %(h)s),
           p.lat::float8, p.lon::float8, p.tags
    from posts p
    where p.status = 'active' and p.visibility = 'public' and p.moderation_status = 'ok'
      and p.created_at > coalesce(
            (select max(computed_at) from explore_scores) - interval '6 hours',
            now() - make_interval(days => %(days)s))
      and not exists (select 1 from explore_scores s where s.post_id = p.id)
    order by p.created_at desc limit %(limit)s"""


class ExploreIndex:
    """One per API process. `pool` given: a changed ranking is loaded in a background
    thread while the previous snapshot keeps serving; without it (tests, scripts) the
    request that notices the change loads it."""

    def __init__(self, check_every_s: float = 3.0, cold_every_s: float = 10.0,
                 pool: Any | None = None,
                 variants: dict[str, dict[str, float]] | None = None) -> None:
        self.check_every_s = check_every_s
        self.cold_every_s = cold_every_s
        self.pool = pool
        self.variants = VARIANT_WEIGHTS if variants is None else variants
        self.parts = sorted({p for w in self.variants.values() for p in w})
        self.tag_ids: dict[str, int] = {}
        self.stored: Segment | None = None
        self.stored_variants: dict[str, Segment] = {}
        self.cold: Segment | None = None
        self.version: datetime | None = None
        self.loading = False
        self._checked = 0.0
        self._cold_at = 0.0
        self._lock = threading.Lock()
        self._tag_lock = threading.Lock()

    # loading
    def _arrays(self, rows: list[tuple[Any, ...]]) -> tuple[np.ndarray, ...]:
        """One chunk of rows as arrays: ids, base, lat, lon, tag ids and their rows, and the
        stored parts the variants re-weight (n × len(self.parts); zeros for cold rows)."""
        n = len(rows)
        k = len(self.parts)
        parts = (np.array([r[5:5 + k] for r in rows], dtype=np.float64).reshape(n, k)
                 if rows and len(rows[0]) >= 5 + k else np.zeros((n, k)))
        ids = np.frombuffer(b"".join(r[0].bytes for r in rows), dtype=np.uint8).reshape(n, 16)
        base = np.fromiter((r[1] for r in rows), dtype=np.float64, count=n)
        lat = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64)
        lon = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)
        owners: list[int] = []
        tag_list: list[int] = []
        with self._tag_lock:
            tid = self.tag_ids
            for i, r in enumerate(rows):
                for t in r[4]:
                    tag_list.append(tid.setdefault(t, len(tid)))
                    owners.append(i)
        return (ids, base, lat, lon, np.asarray(tag_list, dtype=np.int64),
                np.asarray(owners, dtype=np.int64), parts)

    def _segment(self, rows: list[tuple[Any, ...]], cold: bool) -> Segment:
        return self._segment_of([self._arrays(rows)], cold)

    def _segment_of(self, chunks: list[tuple[np.ndarray, ...]], cold: bool,
                    weights: dict[str, float] | None = None) -> Segment:
        """The chunks as one score-sorted segment; with `weights` (a variant), each base
        gets Σ weight × part added before sorting."""
        offsets = np.cumsum([0] + [len(c[1]) for c in chunks])
        ids = np.concatenate([c[0] for c in chunks]) if chunks else np.empty((0, 16), np.uint8)
        base = np.concatenate([c[1] for c in chunks]) if chunks else np.empty(0)
        extra: np.ndarray | None = None
        if weights is not None:
            parts = (np.concatenate([c[6] for c in chunks]) if chunks
                     else np.empty((0, len(self.parts))))
            w = np.array([weights.get(p, 0.0) for p in self.parts], dtype=np.float64)
            extra = parts @ w if len(self.parts) else np.zeros(len(base))
            base = base + extra
        lat = np.concatenate([c[2] for c in chunks]) if chunks else np.empty(0)
        lon = np.concatenate([c[3] for c in chunks]) if chunks else np.empty(0)
        tags_arr = (np.concatenate([c[4] for c in chunks]) if chunks
                    else np.empty(0, np.int64))
        owners = (np.concatenate([c[5] + off for c, off in zip(chunks, offsets, strict=False)])
                  if chunks else np.empty(0, np.int64))
        n = len(base)
        order = np.argsort(-base, kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        postings: dict[int, np.ndarray] = {}
        if len(tags_arr):
            pos_arr = rank[owners]
            by = np.lexsort((pos_arr, tags_arr))
            tags_sorted, pos_sorted = tags_arr[by], pos_arr[by]
            cuts = np.flatnonzero(np.diff(tags_sorted)) + 1
            for chunk_t, chunk_p in zip(np.split(tags_sorted, cuts), np.split(pos_sorted, cuts),
                                        strict=True):
                postings[int(chunk_t[0])] = chunk_p
        lat_s, lon_s = lat[order], lon[order]
        return Segment(ids[order], base[order], lat_s, lon_s,
                       np.flatnonzero(~np.isnan(lat_s)), postings, cold,
                       None if extra is None else extra[order])

    def _load_stored(self, conn: Connection, version: datetime | None) -> None:
        """Stream the ranking in chunks (a server-side cursor), so the process never holds
        a million Python rows at once."""
        chunks = []
        with conn.transaction(), conn.cursor(name="explore_snapshot", binary=True) as cur:
            cur.execute(_stored_sql(self.parts))
            while rows := cur.fetchmany(LOAD_CHUNK):
                chunks.append(self._arrays(rows))
        segment = self._segment_of(chunks, cold=False)
        variants = {name: self._segment_of(chunks, cold=False, weights=w)
                    for name, w in self.variants.items()}
        self.stored, self.stored_variants, self.version = segment, variants, version

    def _load_in_background(self, version: datetime | None) -> None:
        def work() -> None:
            try:
                assert self.pool is not None
                with self.pool.connection() as conn:
                    self._load_stored(conn, version)
            finally:
                self.loading = False
        self.loading = True
        threading.Thread(target=work, name="explore-snapshot", daemon=True).start()

    def refresh(self, conn: Connection, *, force: bool = False) -> None:
        """Reload what changed (cheap when nothing did); safe to call on every request."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_every_s and self.stored is not None:
            return
        if not self._lock.acquire(blocking=self.stored is None or force):
            return  # another request is checking; serve the current snapshot
        try:
            self._checked = time.monotonic()
            row = conn.execute("select max(computed_at) from explore_scores").fetchone()
            version = row[0] if row else None
            if force or self.stored is None:
                self._load_stored(conn, version)
                self._cold_at = 0.0
            elif version != self.version and not self.loading:
                if self.pool is not None:
                    self._load_in_background(version)
                else:
                    self._load_stored(conn, version)
                self._cold_at = 0.0
            if force or now - self._cold_at >= self.cold_every_s:
                rows = conn.execute(_COLD_SQL, {
                    "w": COLD_START_WEIGHT, "h": COLD_START_HALF_LIFE_H,
                    "days": COLD_START_MAX_AGE_DAYS, "limit": COLD_START_LIMIT}).fetchall()
                self.cold = self._segment(rows, cold=True)
                self._cold_at = time.monotonic()
        finally:
            self._lock.release()

    # ranking
    def _boosts(self, seg: Segment, need: int, req: Request,
                req_tags: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """geo and tag parts of positions [0, need), and the positions that have any."""
        geo = np.zeros(need)
        tag = np.zeros(need)
        boosted = np.zeros(need, dtype=bool)
        if req.near is not None:
            gp = seg.geo_pos[: np.searchsorted(seg.geo_pos, need)]
            lat0, lon0 = req.near
            dy = (seg.lat[gp] - lat0) * 111.32
            dx = (seg.lon[gp] - lon0) * 111.32 * math.cos(math.radians(lat0))
            part = GEO_WEIGHT * np.clip(1.0 - np.sqrt(dx * dx + dy * dy) / GEO_RADIUS_KM,
                                        0.0, 1.0)
            geo[gp] = part
            boosted[gp[part > 0]] = True
        if req.tags:
            for t in req_tags:
                plist = seg.postings.get(t)
                if plist is not None:
                    hit = plist[: np.searchsorted(plist, need)]
                    tag[hit] += TAG_WEIGHT / len(req.tags)
                    boosted[hit] = True
        return geo, tag, boosted

    def _exact(self, seg: Segment, pos: np.ndarray, req: Request,
               req_tags: list[int]) -> np.ndarray:
        """geo + tag parts of the positions `pos` (a few thousand at most)."""
        out = np.zeros(len(pos))
        if req.near is not None:
            lat0, lon0 = req.near
            dy = (seg.lat[pos] - lat0) * 111.32
            dx = (seg.lon[pos] - lon0) * 111.32 * math.cos(math.radians(lat0))
            out += np.nan_to_num(GEO_WEIGHT * np.clip(
                1.0 - np.sqrt(dx * dx + dy * dy) / GEO_RADIUS_KM, 0.0, 1.0))
        for t in req_tags:
            plist = seg.postings.get(t)
            if plist is not None and len(plist):
                at = np.minimum(np.searchsorted(plist, pos), len(plist) - 1)
                out += (plist[at] == pos) * (TAG_WEIGHT / len(req.tags))
        return out

    def _segment_top(self, seg: Segment, k: int, req: Request, req_tags: list[int],
                     max_boost: float) -> list[tuple[float, int, float, float]]:
        """The exact top k of a segment by base + request-time parts.

        A post outside the first k by base that gets no boost totals its base, at most the
        k-th base; a boosted post totals at most base + max_boost. So with T = the k-th
        best total among the first k posts (a lower bound of the true k-th total), only
        boosted posts with base > T - max_boost can enter, and they are a prefix of the
        score order: only that prefix is scored (vectorised), whatever the table's size."""
        n = seg.n
        if n == 0 or k <= 0:
            return []
        k = min(k, n)
        need = k
        if max_boost > 0:
            # first pass: real totals of the first k by base and of the best-based k of
            # every boost list; their k-th best total bounds the true k-th total from below
            lists = [np.arange(k, dtype=np.int64)]
            if req.near is not None:
                lists.append(seg.geo_pos[:k])
            lists += [seg.postings[t][:k] for t in req_tags if t in seg.postings]
            first = np.unique(np.concatenate(lists))
            totals0 = seg.base[first] + self._exact(seg, first, req, req_tags)
            kth = float(np.partition(totals0, len(totals0) - k)[len(totals0) - k])
            floor = kth - max_boost - 1e-9 * max(1.0, abs(kth))  # float rounding of sums
            need = max(k, int(np.searchsorted(-seg.base, -floor, side="right")))
        geo, tag, boosted = self._boosts(seg, need, req, req_tags)
        boosted[:k] = True
        cand = np.flatnonzero(boosted)
        totals = seg.base[cand] + geo[cand] + tag[cand]
        if len(cand) > k:
            keep = np.argpartition(-totals, k - 1)[:k]
            cand, totals = cand[keep], totals[keep]
        top = np.lexsort((cand, -totals))
        return [(float(totals[i]), int(cand[i]), float(geo[cand[i]]), float(tag[cand[i]]))
                for i in top]

    def ranked(self, req: Request, start: int, count: int, variant: str | None = None
               ) -> list[dict[str, Any]]:
        """Ranking positions [start, start + count) before the viewer's filter, in the
        control's order or a declared variant's."""
        stored = self.stored
        if variant is not None:
            if variant not in self.variants:
                raise ValueError(f"no Explore ranking variant named {variant!r}")
            stored = self.stored_variants.get(variant, stored)
        segments = [s for s in (stored, self.cold) if s is not None]
        req_tags = [self.tag_ids[t] for t in req.tags if t in self.tag_ids]
        max_boost = (GEO_WEIGHT if req.near else 0.0) + (TAG_WEIGHT if req.tags else 0.0)
        k = start + count
        merged: list[tuple[float, int, int, float, float]] = []
        for si, seg in enumerate(segments):
            merged += [(t, si, i, g, tg) for t, i, g, tg in
                       self._segment_top(seg, k, req, req_tags, max_boost)]
        merged.sort(key=lambda x: (-x[0], x[1], x[2]))
        out = []
        for total, si, i, geo, tag in merged[start:k]:
            seg = segments[si]
            out.append({"post_id": seg.uuid(i), "score": total, "base": float(seg.base[i]),
                        "cold": seg.cold, "geo": geo, "tags": tag,
                        "extra": 0.0 if seg.extra is None else float(seg.extra[i])})
        return out

    @property
    def size(self) -> int:
        return sum(s.n for s in (self.stored, self.cold) if s is not None)


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": position}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = int(data["o"])
        if not 0 <= position <= 1_000_000_000:
            raise ValueError
        return position
    except Exception as exc:
        raise ValidationError(ErrorCode.INVALID_CURSOR, "the cursor is malformed") from exc
