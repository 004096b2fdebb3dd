"""Signed ad tokens: what the core served, bound so that a report cannot be forged.

Every served ad slot gets a token: `v1.<payload>.<mac>` where payload is base64url (no
padding) of a compact JSON array of the fields below and mac is base64url of
HMAC-SHA256(settings.ads_token_secret, "v1." + payload). `read()` checks the shape, the
length and the MAC (constant time) BEFORE parsing anything, then the fields strictly;
anything wrong is one error, 422 AD_TOKEN_INVALID, never a 500. Expiry is not an error
here: an expired but genuine token is reported with the `token_expired` flag.

The price travels in the token (the bid at serving time), so a later bid change never
re-prices an ad already served.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from infra.settings import get_settings
from marketplace_core.errors import ErrorCode, ValidationError

VERSION = "v1"
MAX_TOKEN_CHARS = 1024
_SHAPE = re.compile(r"^v1\.[A-Za-z0-9_-]{16,900}\.[A-Za-z0-9_-]{43}$")
TYPES = ("boost", "search", "banner")
PLACEMENTS = ("explore", "following", "search", "banner")
PRICINGS = ("cpc", "cpm", "fixed_daily")
TARGET_TYPES = ("post", "product", "banner")
VIEWER_KINDS = ("u", "s")  # u: account pseudonym; s: guest session (or address hash)
_PRICE = re.compile(r"^\d{1,10}\.\d{2}$")


@dataclass(frozen=True)
class AdToken:
    impression_id: uuid.UUID
    campaign_id: uuid.UUID
    merchant_id: uuid.UUID
    shop_id: uuid.UUID
    campaign_type: str
    placement: str
    pricing: str
    price: Decimal
    target_type: str
    target_id: uuid.UUID | None
    position: int | None
    viewer_kind: str
    viewer: str
    served_at_ms: int
    expires_at_ms: int
    own_ad: bool = False
    experiment_arm: str | None = None

    @property
    def viewer_key(self) -> str:
        """The frequency cap's key of the viewer ("u:<pseudonym>" or "s:<session>")."""
        return f"{self.viewer_kind}:{self.viewer}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(signed: bytes) -> bytes:
    return hmac.new(get_settings().ads_token_secret.encode(), signed, hashlib.sha256).digest()


def sign(t: AdToken) -> str:
    payload = orjson.dumps([
        t.impression_id.hex, t.campaign_id.hex, t.merchant_id.hex, t.shop_id.hex,
        t.campaign_type, t.placement, t.pricing, f"{t.price:.2f}", t.target_type,
        t.target_id.hex if t.target_id else None, t.position, t.viewer_kind, t.viewer,
        t.served_at_ms, t.expires_at_ms, 1 if t.own_ad else 0, t.experiment_arm])
    head = f"{VERSION}.{_b64(payload)}"
    return f"{head}.{_b64(_mac(head.encode()))}"


def invalid(message: str = "the ad token is not valid") -> ValidationError:
    return ValidationError(ErrorCode.AD_TOKEN_INVALID, message)


def _uuid(value: Any, nullable: bool = False) -> uuid.UUID | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or len(value) != 32:
        raise ValueError("uuid")
    return uuid.UUID(hex=value)


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError("choice")
    return str(value)


def _int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError("int")
    return value


def read(token: Any) -> AdToken:
    """The token's fields if it is one the core signed; else 422 AD_TOKEN_INVALID."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _SHAPE.match(token):
        raise invalid()
    head, _, mac = token.rpartition(".")
    # the canonical text of the MAC, compared as text: base64's spare bits in the last
    # character cannot make a second spelling of a valid token
    if not hmac.compare_digest(mac.encode(), _b64(_mac(head.encode())).encode()):
        raise invalid()
    try:
        f = orjson.loads(_unb64(head[len(VERSION) + 1:]))
        if not isinstance(f, list) or len(f) != 17:
            raise ValueError("shape")
        if not isinstance(f[7], str) or not _PRICE.match(f[7]):
            raise ValueError("price")
        if not isinstance(f[12], str) or not 1 <= len(f[12]) <= 64:
            raise ValueError("viewer")
        if f[16] is not None and (not isinstance(f[16], str) or len(f[16]) > 100):
            raise ValueError("arm")
        ids = [_uuid(f[i]) for i in range(4)]
        return AdToken(
            impression_id=ids[0], campaign_id=ids[1], merchant_id=ids[2],  # type: ignore[arg-type]
            shop_id=ids[3],  # type: ignore[arg-type]
            campaign_type=_choice(f[4], TYPES), placement=_choice(f[5], PLACEMENTS),
            pricing=_choice(f[6], PRICINGS), price=Decimal(f[7]),
            target_type=_choice(f[8], TARGET_TYPES), target_id=_uuid(f[9], nullable=True),
            position=None if f[10] is None else _int(f[10], 0, 10_000),
            viewer_kind=_choice(f[11], VIEWER_KINDS), viewer=f[12],
            served_at_ms=_int(f[13], 0, 2**53), expires_at_ms=_int(f[14], 0, 2**53),
            own_ad=_int(f[15], 0, 1) == 1, experiment_arm=f[16])
    except (ValueError, TypeError, InvalidOperation, orjson.JSONDecodeError,
            binascii.Error) as exc:
        raise invalid() from exc
