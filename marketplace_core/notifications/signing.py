"""HMAC signatures: the providers' status webhooks and the unsubscribe links.

A webhook carries `X-Notify-Signature: sha256=<hex HMAC-SHA256 of the raw body>` under
NOTIFY_WEBHOOK_SECRET. An unsubscribe token is `<base64url JSON>.<base64url HMAC>` under
NOTIFY_UNSUBSCRIBE_SECRET, naming the user, the channel and one category or all ("*").
Tokens do not expire: an old e-mail's link keeps working (it can only unsubscribe)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.errors import ErrorCode, ValidationError
from marketplace_core.notifications.catalog import CATEGORIES, CHANNELS

SIGNATURE_HEADER = "X-Notify-Signature"
ALL = "*"


def webhook_signature(body: bytes, secret: str | None = None) -> str:
    key = (secret or get_settings().notify_webhook_secret).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def webhook_signature_ok(body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(webhook_signature(body), header.strip())


@dataclass(frozen=True)
class Unsubscribe:
    user_id: UUID
    channel: str
    category: str  # a category, or ALL


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str) -> str:
    key = get_settings().notify_unsubscribe_secret.encode()
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def unsubscribe_token(user_id: UUID, channel: str, category: str = ALL) -> str:
    payload = _b64(json.dumps({"u": str(user_id), "ch": channel, "c": category},
                              separators=(",", ":")).encode())
    return f"{payload}.{_mac(payload)}"


def read_unsubscribe_token(token: str) -> Unsubscribe:
    """The request a token carries; 422 INVALID_UNSUBSCRIBE_TOKEN if forged or malformed."""
    bad = ValidationError(ErrorCode.INVALID_UNSUBSCRIBE_TOKEN,
                          "this unsubscribe link is not valid")
    payload, _, mac = token.partition(".")
    if not payload or not mac or not payload.isascii() or not mac.isascii():
        raise bad
    if not hmac.compare_digest(_mac(payload), mac):
        raise bad
    try:
        data = json.loads(_unb64(payload))
        request = Unsubscribe(UUID(data["u"]), str(data["ch"]), str(data["c"]))
    except (ValueError, KeyError, TypeError):
        raise bad from None
    if request.channel not in CHANNELS or request.category not in (*CATEGORIES, ALL):
        raise bad
    return request
