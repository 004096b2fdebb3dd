"""TOTP (RFC 6238) second factor: secrets, provisioning URIs, and code checks that never
accept the same code twice."""

from __future__ import annotations

import hmac
import time

import pyotp

ISSUER = "Bazaar Bishkek"
INTERVAL = 30
# Accept the previous and next 30 s step too: phone clocks drift.
VALID_WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app scans (as a QR code)."""
    return pyotp.TOTP(secret, interval=INTERVAL).provisioning_uri(
        name=email, issuer_name=ISSUER)


def current_code(secret: str, *, at: float | None = None) -> str:
    """The code an authenticator shows now (used by fixtures and tests)."""
    return pyotp.TOTP(secret, interval=INTERVAL).at(int(at if at is not None else time.time()))


def matching_step(
    secret: str, code: str, *, last_step: int | None = None, now: float | None = None
) -> int | None:
    """The time step `code` belongs to, or None if it is wrong, outside the window, or not
    newer than `last_step` (a replayed code)."""
    code = (code or "").replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=INTERVAL)
    current = int((now if now is not None else time.time()) // INTERVAL)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * INTERVAL), code):
            return step
    return None
