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
    ids: np.ndarray        # (n, 16) uint8, UUID bytes, sorted by base desc
    base: np.ndarray       # float64, descending
    lat: np.ndarray        # float64, nan without geo
    lon: np.ndarray
    tag_ptr: np.ndarray    # int64 (n + 1), CSR offsets into tag_ids
    tag_ids: np.ndarray    # int32
    cold: bool

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
    select s.post_id, s.score, p.lat::float8, p.lon::float8, p.tags
    from explore_scores s join posts p on p.id = s.post_id
    where p.status = 'active' and p.visibility = 'public' and p.moderation_status = 'ok'"""
_COLD_SQL = """
    select p.id, %(w)s * power(0.5, extract(epoch from now() - p.created_at) / 3600.0 / %(h)s),
           p.lat::float8, p.lon::float8, p.tags
    from posts p
    where p.status = 'active' and p.visibility = 'public' and p.moderation_status = 'ok'
      and p.created_at > now() - make_interval(days => %(days)s)
      and not exists (select 1 from explore_scores s where s.post_id = p.id)
    order by p.created_at desc limit %(limit)s"""


class ExploreIndex:
    def __init__(self, check_every_s: float = 3.0, cold_every_s: float = 10.0) -> None:
        self.check_every_s = check_every_s
        self.cold_every_s = cold_every_s
        self.tag_ids: dict[str, int] = {}
        self.stored: Segment | None = None
        self.cold: Segment | None = None
        self.version: datetime | None = None
        self._checked = 0.0
        self._cold_at = 0.0
        self._lock = threading.Lock()

    # loading
    def _segment(self, rows: list[tuple[Any, ...]], cold: bool) -> Segment:
        n = len(rows)
        ids = np.empty((n, 16), dtype=np.uint8)
        base = np.empty(n, dtype=np.float64)
        lat = np.full(n, np.nan)
        lon = np.full(n, np.nan)
        ptr = np.zeros(n + 1, dtype=np.int64)
        tag_list: list[int] = []
        tid = self.tag_ids
        for i, (pid, score, la, lo, tags) in enumerate(rows):
            ids[i] = np.frombuffer(pid.bytes, dtype=np.uint8)
            base[i] = score
            if la is not None:
                lat[i], lon[i] = la, lo
            for t in tags:
                tag_list.append(tid.setdefault(t, len(tid)))
            ptr[i + 1] = len(tag_list)
        tags_arr = np.asarray(tag_list, dtype=np.int32)
        order = np.argsort(-base, kind="stable")
        lengths = np.diff(ptr)[order]
        new_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = (np.repeat(ptr[:-1][order] - new_ptr[:-1], lengths)
                  + np.arange(int(new_ptr[-1]), dtype=np.int64))
        return Segment(ids[order], base[order], lat[order], lon[order], new_ptr,
                       tags_arr[gather] if len(tags_arr) else tags_arr, cold)

    def refresh(self, conn: Connection, *, force: bool = False) -> None:
        """Reload what changed (cheap when nothing did); safe to call on every request."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_every_s and self.stored is not None:
            return
        if not self._lock.acquire(blocking=self.stored is None or force):
            return  # another request is reloading; serve the current snapshot
        try:
            self._checked = time.monotonic()
            row = conn.execute("select max(computed_at) from explore_scores").fetchone()
            version = row[0] if row else None
            if force or self.stored is None or version != self.version:
                with conn.cursor(binary=True) as cur:
                    rows = cur.execute(_STORED_SQL).fetchall()
                self.stored, self.version = self._segment(rows, cold=False), version
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
    def _boost(self, seg: Segment, upto: int, req: Request,
               req_tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        geo = np.zeros(upto)
        tag = np.zeros(upto)
        if req.near is not None:
            lat0, lon0 = req.near
            dy = (seg.lat[:upto] - lat0) * 111.32
            dx = (seg.lon[:upto] - lon0) * 111.32 * math.cos(math.radians(lat0))
            d = np.sqrt(dx * dx + dy * dy)
            geo = np.nan_to_num(GEO_WEIGHT * np.clip(1.0 - d / GEO_RADIUS_KM, 0.0, 1.0))
        if req.tags:
            hits = np.isin(seg.tag_ids[: seg.tag_ptr[upto]], req_tags).astype(np.int64)
            c = np.concatenate([[0], np.cumsum(hits)])
            counts = c[seg.tag_ptr[1: upto + 1]] - c[seg.tag_ptr[:upto]]
            tag = TAG_WEIGHT * counts / len(req.tags)
        return geo, tag

    def _segment_top(self, seg: Segment, k: int, req: Request, req_tags: np.ndarray,
                     max_boost: float) -> list[tuple[float, int, float, float]]:
        n = seg.n
        if n == 0 or k <= 0:
            return []
        upto = min(n, k)
        neg = -seg.base
        while True:
            geo, tag = self._boost(seg, upto, req, req_tags)
            totals = seg.base[:upto] + geo + tag
            if upto == n or max_boost == 0.0:
                break
            kth = np.partition(totals, -k)[-k] if upto >= k else -np.inf
            need = int(np.searchsorted(neg, -(kth - max_boost), side="right"))
            if need <= upto:
                break
            upto = min(n, max(need, 2 * upto))
        top = np.argsort(-totals, kind="stable")[:k]
        return [(float(totals[i]), int(i), float(geo[i]), float(tag[i])) for i in top]

    def ranked(self, req: Request, start: int, count: int) -> list[dict[str, Any]]:
        """Ranking positions [start, start + count) before the viewer's filter."""
        segments = [s for s in (self.stored, self.cold) if s is not None]
        req_tags = np.asarray([self.tag_ids[t] for t in req.tags if t in self.tag_ids],
                              dtype=np.int32)
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
                        "cold": seg.cold, "geo": geo, "tags": tag})
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
