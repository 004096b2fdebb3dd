"""The PSP webhook's wire contract, shared by our handler (`webhooks`) and the simulated
PSP that sends it (`simulator`): the signature header, the HMAC, and what a delivery
answered. Neither side's logic lives here, so the two import it without importing each
other."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from infra.settings import get_settings
from marketplace_core.errors import ErrorCode, UnauthorizedError

SIGNATURE_HEADER = "X-PSP-Signature"


def sign(body: bytes, secret: str | None = None) -> str:
    """The signature the PSP sends for `body` (hex HMAC-SHA256)."""
    key = (secret or get_settings().psp_webhook_secret).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None) -> None:
    """Raise INVALID_SIGNATURE unless `signature` is the body's HMAC (constant time)."""
    given = (signature or "").strip()
    if given.lower().startswith("sha256="):
        given = given[len("sha256="):]
    if not given or not hmac.compare_digest(given.lower(), sign(body)):
        raise UnauthorizedError(ErrorCode.INVALID_SIGNATURE,
                                "the webhook signature is missing or does not match")


@dataclass(frozen=True)
class Delivery:
    """What the webhook's receiver answered (status 0: it could not be reached)."""

    status_code: int
    body: str


class WebhookSender(Protocol):
    def send(self, body: bytes, signature: str) -> Delivery: ...
