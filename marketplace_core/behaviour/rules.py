"""What a behavioural event must look like: the per-event rules of `POST /events`.

`check(raw, received_ms, rules)` turns one JSON value from the batch into the fields of a
`BehaviourEvent` (schemas/analytics/behaviour_event.avsc) or raises `Rejected(code,
detail)`. It is plain Python on purpose (no model per event): it runs for every event of
every batch and is most of the intake's CPU.

Codes: UNKNOWN_EVENT_TYPE, SERVER_RECORDED_EVENT (a type the platform records itself, e.g.
`chat_started` when a conversation opens: counted once, never from an app), INVALID_TARGET
(type/target combination), EVENT_TIME_OUT_OF_RANGE
(client time more than `max_future` ahead of or `max_past` behind the time the API received
it), INVALID_EVENT (anything else: missing or mistyped field, bad uuid, too long, control
characters or invalid UTF-8, coordinates out of range, numbers out of range).

Fields the server sets (user_pseudo_id, received_at, fingerprint) and fields the schema
does not know (user_id, ...) are ignored if a client sends them: an account id never
leaves the core.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from infra.settings import get_settings
from marketplace_core.errors import ErrorCode

# event type -> the target types it may name (None: it names no target)
TARGETS: dict[str, frozenset[str] | None] = {
    "view": frozenset({"shop", "product", "post", "ad"}),
    "click": frozenset({"shop", "product", "post", "ad"}),
    "add_to_cart": frozenset({"product"}),
    "route_built": frozenset({"shop"}),
    "chat_started": frozenset({"shop", "product"}),
    "call_click": frozenset({"shop"}),
    "search": None,
    "post_impression": frozenset({"post", "ad"}),
    "share": frozenset({"shop", "product", "post"}),
    "save": frozenset({"shop", "product", "post"}),
}
EVENT_TYPES = tuple(TARGETS)
# Types the core publishes itself from the real action (marketplace_core.chat.analytics):
# an app's copy would count the action twice.
SERVER_RECORDED = frozenset({"chat_started"})
TARGET_TYPES = ("shop", "product", "post", "ad")
SURFACES = frozenset({"map", "feed", "following", "explore", "search", "profile", "ad", "other"})
PLATFORMS = frozenset({"ios", "android", "web"})

MAX_SESSION_ID = 64
MAX_ANONYMOUS_ID = 64
MAX_SEARCH_QUERY = 200
MAX_APP_VERSION = 32
MAX_UTM = 200
MAX_REFERRER = 2048
MAX_POSITION = 1_000_000
# 2000-01-01 .. 2100-01-01 in ms: anything else is not a client clock, it is garbage.
_MIN_MS, _MAX_MS = 946_684_800_000, 4_102_444_800_000
_MICRO = Decimal("0.000001")

# C0/C1 controls, DEL, line/paragraph separators, and lone surrogates (what invalid UTF-8
# becomes when the batch had to be decoded with surrogateescape).
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}")

OPTIONAL_TEXT = (("app_version", MAX_APP_VERSION), ("utm_source", MAX_UTM),
                 ("utm_medium", MAX_UTM), ("utm_campaign", MAX_UTM),
                 ("referrer", MAX_REFERRER))


class Rejected(Exception):
    """One event cannot be accepted: a stable `code` and a `detail` naming field and rule."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = str(code)
        self.detail = detail


@dataclass(frozen=True)
class Rules:
    max_future_ms: int
    max_past_ms: int

    @classmethod
    def from_settings(cls) -> Rules:
        s = get_settings()
        return cls(max_future_ms=s.events_max_future_seconds * 1000,
                   max_past_ms=s.events_max_past_seconds * 1000)


def _invalid(detail: str) -> Rejected:
    return Rejected(ErrorCode.INVALID_EVENT, detail)


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise _invalid(f"{name} is required")
        return None
    if type(value) is not str:
        raise _invalid(f"{name} must be a string")
    if not value:
        if required:
            raise _invalid(f"{name} must not be empty")
        return None
    if len(value) > limit:
        raise _invalid(f"{name} is longer than {limit} characters")
    if _BAD_CHARS.search(value) is not None:
        if _SURROGATES.search(value) is not None:
            raise _invalid(f"{name} is not valid UTF-8")
        raise _invalid(f"{name} contains control characters")
    return value


def _uuid(value: Any, name: str) -> str:
    if type(value) is not str or len(value) != 36 or _UUID.fullmatch(value) is None:
        raise _invalid(f"{name} must be a UUID string (8-4-4-4-12 hex digits)")
    return value.lower()


def _time_ms(value: Any) -> int:
    """Client time: an ISO-8601 string with an offset, or epoch milliseconds."""
    if type(value) is str:
        if len(value) > 40:
            raise _invalid("occurred_at is not an ISO-8601 time")
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid("occurred_at is not an ISO-8601 time") from None
        if at.tzinfo is None:
            raise _invalid("occurred_at must carry a UTC offset (e.g. Z or +06:00)")
        ms = int(at.timestamp() * 1000)
    elif type(value) is int:
        ms = value
    elif value is None:
        raise _invalid("occurred_at is required")
    else:
        raise _invalid("occurred_at must be an ISO-8601 string or epoch milliseconds")
    if not _MIN_MS <= ms < _MAX_MS:
        raise _invalid("occurred_at is not a plausible time (2000 to 2100)")
    return ms


def _coordinate(value: Any, name: str, bound: int) -> Decimal:
    kind = type(value)
    if kind is not float and kind is not int:
        raise _invalid(f"{name} must be a number")
    if kind is float and not math.isfinite(value):
        raise _invalid(f"{name} must be a finite number")
    if not -bound <= value <= bound:
        raise _invalid(f"{name} must be between -{bound} and {bound}")
    return Decimal(repr(value) if kind is float else value).quantize(_MICRO)


def check(raw: Any, received_ms: int, rules: Rules) -> dict[str, Any]:
    """The event's schema fields (all but user_pseudo_id, received_at and fingerprint)."""
    if type(raw) is not dict:
        raise _invalid("an event must be a JSON object")
    get = raw.get
    event_id = _uuid(get("event_id"), "event_id")
    event_type = get("event_type")
    if type(event_type) is not str:
        raise _invalid("event_type is required (a string)")
    if event_type not in TARGETS:
        raise Rejected(ErrorCode.UNKNOWN_EVENT_TYPE,
                       f"event_type {event_type[:40]!r} is not one of {', '.join(EVENT_TYPES)}")
    if event_type in SERVER_RECORDED:
        raise Rejected(ErrorCode.SERVER_RECORDED_EVENT,
                       f"{event_type} is recorded by the platform itself when the buyer opens "
                       "a conversation (POST /chat/conversations); apps do not send it")
    occurred = _time_ms(get("occurred_at"))
    if occurred > received_ms + rules.max_future_ms:
        raise Rejected(ErrorCode.EVENT_TIME_OUT_OF_RANGE,
                       f"occurred_at is {(occurred - received_ms) // 1000} s in the future "
                       f"(at most {rules.max_future_ms // 1000} s)")
    if occurred < received_ms - rules.max_past_ms:
        raise Rejected(ErrorCode.EVENT_TIME_OUT_OF_RANGE,
                       f"occurred_at is {(received_ms - occurred) // 1000} s in the past "
                       f"(at most {rules.max_past_ms // 1000} s)")
    session_id = _text(get("session_id"), "session_id", MAX_SESSION_ID, required=True)
    surface = get("surface")
    if surface not in SURFACES:
        raise _invalid(f"surface must be one of {', '.join(sorted(SURFACES))}")

    allowed = TARGETS[event_type]
    target_type = get("target_type")
    target_id = get("target_id")
    if allowed is None:
        if target_type is not None or target_id is not None:
            raise Rejected(ErrorCode.INVALID_TARGET, f"a {event_type} event names no target")
    else:
        if target_type not in allowed:
            raise Rejected(ErrorCode.INVALID_TARGET,
                           f"a {event_type} event targets one of {', '.join(sorted(allowed))}")
        if target_id is None:
            raise Rejected(ErrorCode.INVALID_TARGET, f"a {event_type} event needs target_id")
        target_id = _uuid(target_id, "target_id")

    position = get("position")
    if position is not None and (type(position) is not int
                                 or not 0 <= position <= MAX_POSITION):
        raise _invalid(f"position must be an integer from 0 to {MAX_POSITION}")
    search_query = _text(get("search_query"), "search_query", MAX_SEARCH_QUERY,
                         required=event_type == "search")

    lat, lon = get("lat"), get("lon")
    if (lat is None) != (lon is None):
        raise _invalid("lat and lon come together")
    if lat is not None:
        lat = _coordinate(lat, "lat", 90)
        lon = _coordinate(lon, "lon", 180)

    platform = get("platform")
    if platform is not None and platform not in PLATFORMS:
        raise _invalid(f"platform must be one of {', '.join(sorted(PLATFORMS))}")
    record: dict[str, Any] = {
        "event_id": event_id, "event_type": event_type, "occurred_at": occurred,
        "target_type": target_type, "target_id": target_id, "session_id": session_id,
        "anonymous_id": None if (anon := get("anonymous_id")) is None else _text(
            anon, "anonymous_id", MAX_ANONYMOUS_ID),
        "surface": surface, "position": position, "search_query": search_query,
        "lat": lat, "lon": lon, "platform": platform,
    }
    for name, limit in OPTIONAL_TEXT:  # mostly absent: skip the call
        value = get(name)
        record[name] = None if value is None else _text(value, name, limit)
    return record


def client_event_id(raw: Any) -> str | None:
    """The event_id a client sent, if it is a readable string (for bad-event records)."""
    if type(raw) is dict:
        value = raw.get("event_id")
        if type(value) is str and len(value) <= 64 and _BAD_CHARS.search(value) is None:
            return value
    return None
