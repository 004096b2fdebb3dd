"""Preferences: which channels, categories, types and shops an owner wants, quiet hours,
locale and marketing consent (seed 000 §25.4, §25.7).

Levels: a user's own rows (`owner_type='user'`), and a shop's rows (`owner_type='shop'`),
which its managers set for everything about that shop; a notification about a shop goes
out on a channel only if both allow it.

Defaults (no row): push and e-mail on, SMS off (it costs the platform money), every
category, no quiet hours, the account's language, no marketing consent.

Rules applied here:
* marketing notifications need `marketing_consent`; transactional ones (orders, POS,
  moderation, chat, reports) ignore a marketing opt-out;
* quiet hours ({"start": "22:00", "end": "08:00"}, in the owner's time zone, Asia/Bishkek
  by default) hold a notification until they end, except high-priority types
  (`pos_offline`, `order_ready_for_pickup`), which go out at once: a shop that cannot sell
  or a buyer whose order waits must know now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg.types.json import Jsonb

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.notifications.catalog import (
    CATEGORIES,
    CHANNELS,
    FALLBACK_ORDER,
    LOCALES,
    TYPES,
    NotificationType,
)

DEFAULT_ENABLED = {"push": True, "email": True, "sms": False}
DEFAULT_TIMEZONE = "Asia/Bishkek"


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    def ends_after(self, now_local: datetime) -> datetime:
        """The first end of quiet hours after `now_local` (aware)."""
        end = now_local.replace(hour=self.end.hour, minute=self.end.minute, second=0,
                                microsecond=0)
        return end if end > now_local else end + timedelta(days=1)

    def as_json(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


@dataclass(frozen=True)
class ChannelPref:
    enabled: bool
    categories: tuple[str, ...] | None = None  # None: every category
    muted_types: tuple[str, ...] = ()
    muted_shops: tuple[UUID, ...] = ()
    quiet_hours: QuietHours | None = None

    def allows(self, ntype: NotificationType, shop_id: UUID | None) -> bool:
        return (self.enabled
                and (self.categories is None or ntype.category in self.categories)
                and ntype.key not in self.muted_types
                and (shop_id is None or shop_id not in self.muted_shops))


@dataclass(frozen=True)
class Preferences:
    owner_type: str
    owner_id: UUID
    channels: dict[str, ChannelPref]
    locale: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    marketing_consent: bool = False
    explicit: frozenset[str] = field(default_factory=frozenset)  # channels with a row

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(DEFAULT_TIMEZONE)


def parse_quiet_hours(value: Any) -> QuietHours | None:
    if value is None:
        return None
    try:
        start = time.fromisoformat(value["start"])
        end = time.fromisoformat(value["end"])
    except (KeyError, TypeError, ValueError):
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS,
                              'quiet_hours must be {"start": "HH:MM", "end": "HH:MM"}') from None
    if start == end:
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS,
                              "quiet_hours start and end must differ")
    return QuietHours(start, end)


def load(conn: Connection, owner_type: str, owner_id: UUID) -> Preferences:
    rows = conn.execute(
        "select channel, enabled, categories, muted_types, muted_shops, quiet_hours"
        " from notification_prefs where owner_type = %s and owner_id = %s",
        (owner_type, owner_id)).fetchall()
    channels = {c: ChannelPref(DEFAULT_ENABLED[c]) for c in CHANNELS}
    for channel, enabled, categories, muted_types, muted_shops, quiet in rows:
        channels[channel] = ChannelPref(
            enabled, tuple(categories) if categories is not None else None,
            tuple(muted_types), tuple(muted_shops), parse_quiet_hours(quiet))
    settings = conn.execute(
        "select locale, timezone, marketing_consent from notification_settings"
        " where owner_type = %s and owner_id = %s", (owner_type, owner_id)).fetchone()
    locale, zone, consent = settings if settings else (None, DEFAULT_TIMEZONE, False)
    return Preferences(owner_type, owner_id, channels, locale, zone, consent,
                       frozenset(r[0] for r in rows))


def channel_chain(user: Preferences, shop: Preferences | None, ntype: NotificationType,
                  shop_id: UUID | None, consent: str | None = None) -> list[str]:
    """The channels to try, in fallback order, that every level allows ([]: none)."""
    if (consent or ntype.consent) == "marketing" and not user.marketing_consent:
        return []
    chain = []
    for channel in FALLBACK_ORDER:
        if not user.channels[channel].allows(ntype, shop_id):
            continue
        # A shop's own rows only restrict what is about that shop (no row: no say).
        if shop is not None and channel in shop.explicit and \
                not shop.channels[channel].allows(ntype, None):
            continue
        chain.append(channel)
    return chain


def quiet_until(prefs: Preferences, channel: str, priority: str,
                now: datetime) -> datetime | None:
    """When to send instead of `now` (quiet hours), or None to send now."""
    quiet = prefs.channels[channel].quiet_hours
    if quiet is None or priority == "high":
        return None
    local = now.astimezone(prefs.zone())
    if not quiet.contains(local.time()):
        return None
    return quiet.ends_after(local)


# --- writing (PUT /notifications/prefs, unsubscribe links) -------------------------------

def _strings(value: Any, allowed: tuple[str, ...] | None, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS, f"{what} must be a list")
    unknown = sorted(set(value) - set(allowed)) if allowed is not None else []
    if unknown:
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS,
                              f"unknown {what}: {', '.join(unknown)}")
    return sorted(set(value))


def save_channel(conn: Connection, owner_type: str, owner_id: UUID, channel: str,
                 change: dict[str, Any]) -> None:
    """Apply a partial change to one channel's row (missing keys keep their value)."""
    if channel not in CHANNELS:
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS, f"unknown channel {channel}")
    current = load(conn, owner_type, owner_id).channels[channel]
    enabled = change.get("enabled", current.enabled)
    if not isinstance(enabled, bool):
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS, "enabled must be a boolean")
    categories: list[str] | None = list(current.categories) \
        if current.categories is not None else None
    if "categories" in change:
        categories = None if change["categories"] is None else \
            _strings(change["categories"], CATEGORIES, "categories")
    muted_types = _strings(change["muted_types"], tuple(TYPES), "types") \
        if "muted_types" in change else list(current.muted_types)
    muted_shops = list(current.muted_shops)
    if "muted_shops" in change:
        try:
            muted_shops = sorted({UUID(str(s)) for s in _strings(change["muted_shops"], None,
                                                                 "muted_shops")})
        except ValueError:
            raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS,
                                  "muted_shops must hold shop ids") from None
    quiet = parse_quiet_hours(change["quiet_hours"]) if "quiet_hours" in change \
        else current.quiet_hours
    conn.execute(
        "insert into notification_prefs (owner_type, owner_id, channel, enabled, categories,"
        " muted_types, muted_shops, quiet_hours) values (%s, %s, %s, %s, %s, %s, %s, %s)"
        " on conflict (owner_type, owner_id, channel) do update set enabled = excluded.enabled,"
        " categories = excluded.categories, muted_types = excluded.muted_types,"
        " muted_shops = excluded.muted_shops, quiet_hours = excluded.quiet_hours,"
        " updated_at = now()",
        (owner_type, owner_id, channel, enabled, categories, muted_types, muted_shops,
         Jsonb(quiet.as_json()) if quiet else None))


def save_settings(conn: Connection, owner_type: str, owner_id: UUID,
                  change: dict[str, Any]) -> None:
    current = load(conn, owner_type, owner_id)
    locale = change.get("locale", current.locale)
    if locale is not None and locale not in LOCALES:
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS,
                              f"locale must be one of {', '.join(LOCALES)}")
    zone = change.get("timezone", current.timezone)
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS,
                              f"unknown time zone {zone!r}") from None
    consent = change.get("marketing_consent", current.marketing_consent)
    if not isinstance(consent, bool):
        raise ValidationError(ErrorCode.INVALID_NOTIFICATION_PREFS,
                              "marketing_consent must be a boolean")
    conn.execute(
        "insert into notification_settings (owner_type, owner_id, locale, timezone,"
        " marketing_consent) values (%s, %s, %s, %s, %s) on conflict (owner_type, owner_id)"
        " do update set locale = excluded.locale, timezone = excluded.timezone,"
        " marketing_consent = excluded.marketing_consent, updated_at = now()",
        (owner_type, owner_id, locale, zone, consent))


def unsubscribe(conn: Connection, user_id: UUID, channel: str, category: str) -> None:
    """An unsubscribe link: one category off on `channel`, or the channel off ("*")."""
    if category == "*":
        save_channel(conn, "user", user_id, channel, {"enabled": False})
        return
    current = load(conn, "user", user_id).channels[channel]
    kept = current.categories if current.categories is not None else CATEGORIES
    save_channel(conn, "user", user_id, channel,
                 {"categories": [c for c in kept if c != category]})


def as_dict(prefs: Preferences) -> dict[str, Any]:
    return {
        "owner_type": prefs.owner_type, "owner_id": str(prefs.owner_id),
        "locale": prefs.locale, "timezone": prefs.timezone,
        "marketing_consent": prefs.marketing_consent,
        "channels": {c: {"enabled": p.enabled,
                         "categories": list(p.categories) if p.categories is not None else None,
                         "muted_types": list(p.muted_types),
                         "muted_shops": [str(s) for s in p.muted_shops],
                         "quiet_hours": p.quiet_hours.as_json() if p.quiet_hours else None}
                     for c, p in prefs.channels.items()},
    }
