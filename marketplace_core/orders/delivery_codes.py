"""Delivery confirmation codes (spec §3.8: partner delivery, confirmed with a code).

The buyer holds a 6-digit code and tells it to the courier, who enters it on delivery.
Only a keyed hash is stored: "h1:" + HMAC-SHA256(CORE_CODE_PEPPER, salt:code). Six digits
are a small space: a plain salted hash from a leaked table is reversed by trying the
million codes, which the pepper (a server-side key, never in the database) prevents. Online
guessing is stopped by the attempt limit of the order service (MAX_ATTEMPTS wrong codes
lock the order's code until the buyer issues a new one).

A stored value without the "h1:" prefix is the older unkeyed sha256(salt:code); it still
checks (codes already handed to buyers keep working) and is gone with the next issued code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from infra.settings import get_settings

CODE_DIGITS = 6
MAX_ATTEMPTS = 5


def new_code() -> str:
    """A uniformly random 6-digit code (leading zeros allowed)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_salt() -> str:
    return secrets.token_hex(16)


KEYED = "h1:"


def hash_code(code: str, salt: str) -> str:
    """The stored form of `code`: keyed with the server's pepper."""
    pepper = get_settings().code_pepper.encode()
    return KEYED + hmac.new(pepper, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def _unkeyed_hash(code: str, salt: str) -> str:
    # the form stored before the pepper (see the module's docstring)
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def matches(code: str, salt: str | None, stored_hash: str | None) -> bool:
    """Whether `code` is the one stored (constant-time comparison)."""
    if salt is None or stored_hash is None:
        return False
    candidate = (code or "").strip()
    if len(candidate) != CODE_DIGITS or not (candidate.isascii() and candidate.isdigit()):
        return False
    expected = (hash_code(candidate, salt) if stored_hash.startswith(KEYED)
                else _unkeyed_hash(candidate, salt))
    return hmac.compare_digest(expected.encode(), stored_hash.encode())
