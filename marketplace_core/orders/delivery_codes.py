"""Delivery confirmation codes (spec §3.8: partner delivery, confirmed with a code).

The buyer holds a 6-digit code and tells it to the courier, who enters it on delivery.
Only a salted SHA-256 of the code is stored. Six digits are a small space, so the real
protection is the attempt limit enforced by the order service (MAX_ATTEMPTS wrong codes
lock the order's code until the buyer issues a new one).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CODE_DIGITS = 6
MAX_ATTEMPTS = 5


def new_code() -> str:
    """A uniformly random 6-digit code (leading zeros allowed)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_code(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def matches(code: str, salt: str | None, stored_hash: str | None) -> bool:
    """Whether `code` is the one stored (constant-time comparison)."""
    if salt is None or stored_hash is None:
        return False
    candidate = (code or "").strip()
    if len(candidate) != CODE_DIGITS or not candidate.isdigit():
        return False
    return hmac.compare_digest(hash_code(candidate, salt), stored_hash)
