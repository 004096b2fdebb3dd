"""Who a campaign is shown to: a place (markets, or a radius around a point inside
Kyrgyzstan), categories of the catalog, and tags.

    {"markets": ["dordoi", "osh"],              # or
     "geo": {"lat": "42.8746", "lon": "74.5698", "radius_km": "3"},
     "category_ids": ["..."], "tags": ["обувь"]}

Rules: markets and geo exclude each other; neither means the whole platform (Kyrgyzstan).
Markets are the trading places of seed 000 (stage 1: Bishkek); `name` is the value the
catalog stores in `shops.market`. The point of a radius must lie inside Kyrgyzstan's
bounding box (else 422 AD_TARGETING_OUTSIDE_KG), the radius within the settings' limits.
Categories must exist (404 CATEGORY_NOT_FOUND); tags are normalised like post hashtags.
Anything else malformed is 422 AD_INVALID_TARGETING.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, NotFoundError, ValidationError
from marketplace_core.social.text import normalise_tag


@dataclass(frozen=True)
class Market:
    key: str
    name: str  # shops.market
    name_ru: str
    lat: Decimal
    lon: Decimal


def _m(key: str, name: str, name_ru: str, lat: str, lon: str) -> Market:
    return Market(key, name, name_ru, Decimal(lat), Decimal(lon))


MARKETS: dict[str, Market] = {m.key: m for m in (
    _m("dordoi", "Dordoi", "Рынок «Дордой»", "42.9375", "74.6190"),
    _m("osh", "Osh", "Ошский рынок", "42.8750", "74.5690"),
    _m("alamedin", "Alamedin", "Аламединский рынок", "42.8845", "74.6375"),
    _m("orto-sai", "Orto-Sai", "Рынок «Орто-Сай»", "42.8380", "74.6140"),
    _m("madina", "Madina", "Рынок «Мадина»", "42.8840", "74.5730"),
    _m("tsum", "TSUM", "ЦУМ «Айчүрөк»", "42.8763", "74.6143"),
    _m("bishkek-park", "Bishkek Park", "ТРЦ Bishkek Park", "42.8753", "74.5903"),
    _m("asia-mall", "Asia Mall", "ТРЦ Asia Mall", "42.8555", "74.5860"),
    _m("vefa", "Vefa Center", "ТЦ «Вефа»", "42.8573", "74.6093"),
    _m("dordoi-plaza", "Dordoi Plaza", "ТРЦ «Дордой Плаза»", "42.8746", "74.6190"),
    _m("tash-rabat", "Tash-Rabat", "ТРЦ «Таш-Рабат»", "42.8540", "74.6040"),
)}

# Kyrgyzstan's bounding box (WGS84): 39.17–43.27 N, 69.25–80.29 E.
KG_LAT = (Decimal("39.17"), Decimal("43.27"))
KG_LON = (Decimal("69.25"), Decimal("80.29"))
_COORD = Decimal("0.000001")
_KM = Decimal("0.01")


@dataclass(frozen=True)
class Geo:
    lat: Decimal
    lon: Decimal
    radius_km: Decimal


@dataclass(frozen=True)
class Targeting:
    markets: list[str] = field(default_factory=list)
    geo: Geo | None = None
    category_ids: list[UUID] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "markets": list(self.markets),
            "geo": None if self.geo is None else {
                "lat": str(self.geo.lat), "lon": str(self.geo.lon),
                "radius_km": str(self.geo.radius_km)},
            "category_ids": [str(c) for c in self.category_ids],
            "tags": list(self.tags),
        }


def _bad(message: str) -> ValidationError:
    return ValidationError(ErrorCode.AD_INVALID_TARGETING, message)


def _number(value: Any, field_name: str) -> Decimal:
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise _bad(f"geo.{field_name} must be a decimal number (a string such as \"42.87\")")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise _bad(f"geo.{field_name} must be a decimal number") from exc
    if not number.is_finite() or number.copy_abs() > 100_000:
        raise _bad(f"geo.{field_name} is out of range")
    return number


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(f"{key} must be a list")
    if len(value) > get_settings().policy.ads_max_targeting_items:
        raise _bad(f"{key}: at most {get_settings().policy.ads_max_targeting_items} items")
    return value


def parse_geo(raw: Any) -> Geo | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"lat", "lon", "radius_km"}:
        raise _bad("geo is {lat, lon, radius_km}")
    lat, lon = _number(raw.get("lat"), "lat"), _number(raw.get("lon"), "lon")
    radius = _number(raw.get("radius_km"), "radius_km")
    if not (KG_LAT[0] <= lat <= KG_LAT[1] and KG_LON[0] <= lon <= KG_LON[1]):
        raise ValidationError(ErrorCode.AD_TARGETING_OUTSIDE_KG,
                              f"the point ({lat}, {lon}) is outside Kyrgyzstan")
    p = get_settings().policy
    if not p.ads_min_radius_km <= radius <= p.ads_max_radius_km:
        raise _bad(f"geo.radius_km must be within {p.ads_min_radius_km}..{p.ads_max_radius_km}")
    return Geo(lat.quantize(_COORD), lon.quantize(_COORD), radius.quantize(_KM))


def validate_targeting(conn: Connection, raw: Any) -> Targeting:
    """The validated targeting of `raw` (a dict as in the module doc; None = everywhere)."""
    if raw is None:
        return Targeting()
    if not isinstance(raw, dict):
        raise _bad("targeting must be an object")
    unknown = set(raw) - {"markets", "geo", "category_ids", "tags"}
    if unknown:
        raise _bad(f"unknown targeting fields: {', '.join(sorted(map(str, unknown)))}")
    markets: list[str] = []
    for key in _list(raw, "markets"):
        if not isinstance(key, str) or key.strip().lower() not in MARKETS:
            shown = repr(key)[:40]
            raise ValidationError(ErrorCode.AD_TARGETING_OUTSIDE_KG,
                                  f"{shown} is not one of the platform's markets: "
                                  + ", ".join(MARKETS))
        if key.strip().lower() not in markets:
            markets.append(key.strip().lower())
    geo = parse_geo(raw.get("geo"))
    if markets and geo is not None:
        raise _bad("target markets or a radius around a point, not both")
    category_ids: list[UUID] = []
    for value in _list(raw, "category_ids"):
        try:
            category_id = value if isinstance(value, UUID) else UUID(str(value))
        except (ValueError, AttributeError) as exc:
            raise _bad("category_ids must be UUIDs") from exc
        if catalog.get_category(conn, category_id) is None:
            raise NotFoundError(ErrorCode.CATEGORY_NOT_FOUND,
                                f"category {category_id} does not exist")
        if category_id not in category_ids:
            category_ids.append(category_id)
    tags: list[str] = []
    for value in _list(raw, "tags"):
        if not isinstance(value, str):
            raise _bad("tags must be strings")
        try:
            tag = normalise_tag(value)
        except ValidationError as exc:
            raise _bad(exc.message) from exc
        if tag not in tags:
            tags.append(tag)
    return Targeting(markets, geo, category_ids, tags)


def from_json(stored: dict[str, Any]) -> Targeting:
    """The targeting as stored in `ad_campaigns.targeting` (already validated)."""
    geo = stored.get("geo")
    return Targeting(
        markets=list(stored.get("markets") or []),
        geo=None if not geo else Geo(Decimal(geo["lat"]), Decimal(geo["lon"]),
                                     Decimal(geo["radius_km"])),
        category_ids=[UUID(c) for c in stored.get("category_ids") or []],
        tags=list(stored.get("tags") or []),
    )
