"""Shops on the map: grid clusters of shop points inside a bounding box (seed 000 §15)."""

from __future__ import annotations

from typing import Any

from marketplace_core.db import Connection


def cluster_shops(conn: Connection, bbox: tuple[float, float, float, float], cell_deg: float,
                  near: tuple[float, float] | None = None,
                  radius_km: float | None = None) -> list[dict[str, Any]]:
    """Clusters of shops in `bbox` (min_lon, min_lat, max_lon, max_lat) on a grid of
    `cell_deg` degrees; a cluster of one carries the shop's id. With `near` (lat, lon) and
    `radius_km`, only shops within that (equirectangular) distance."""
    params = {"w": bbox[0], "s": bbox[1], "e": bbox[2], "n": bbox[3], "cell": cell_deg,
              "near_lat": near[0] if near else None, "near_lon": near[1] if near else None,
              "radius": radius_km}
    dist = ""
    if near is not None and radius_km is not None:
        dist = (" and sqrt(power((lat::float8 - %(near_lat)s) * 111.32, 2)"
                " + power((lon::float8 - %(near_lon)s) * 111.32 * cos(radians(%(near_lat)s)),"
                " 2)) <= %(radius)s")
    rows = conn.execute(
        f"""select avg(lat)::float8, avg(lon)::float8, count(*), (array_agg(id))[1]
            from shops where lat is not null and lon is not null
              and lat between %(s)s::numeric and %(n)s::numeric
              and lon between %(w)s::numeric and %(e)s::numeric{dist}
            group by floor(lon::float8 / %(cell)s), floor(lat::float8 / %(cell)s)
            order by count(*) desc limit 1000""", params).fetchall()
    return [{"lat": la, "lon": lo, "count": n, "id": sid if n == 1 else None}
            for la, lo, n, sid in rows]
