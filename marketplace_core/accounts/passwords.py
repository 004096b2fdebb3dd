"""Password hashing with BCrypt (cost from settings, overridable for tests and fixtures)."""

from __future__ import annotations

from functools import cache

import bcrypt

from infra.settings import get_settings
from marketplace_core.errors import ErrorCode, ValidationError

MIN_LENGTH = 10
# BCrypt only reads the first 72 bytes; longer passwords would silently lose their tail.
MAX_BYTES = 72


def validate_password(password: str) -> str:
    """The password if acceptable, else WEAK_PASSWORD (422)."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ValidationError(
            ErrorCode.WEAK_PASSWORD, f"password must be at least {MIN_LENGTH} characters")
    if len(password.encode()) > MAX_BYTES:
        raise ValidationError(
            ErrorCode.WEAK_PASSWORD, f"password must be at most {MAX_BYTES} bytes (UTF-8)")
    # BCrypt stops at a NUL byte: "a\0bcdefghij" would be the same password as "a".
    if "\x00" in password:
        raise ValidationError(ErrorCode.WEAK_PASSWORD, "password must not contain NUL")
    return password


def hash_password(password: str, *, rounds: int | None = None) -> str:
    """A BCrypt hash of a validated password; `rounds` defaults to settings.bcrypt_rounds."""
    validate_password(password)
    cost = rounds if rounds is not None else get_settings().bcrypt_rounds
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether `password` matches; with no hash (unknown user) a dummy hash is checked so
    that the answer takes as long as for a real account (no timing oracle on emails)."""
    encoded = password.encode() if isinstance(password, str) else b""
    candidate = encoded if 0 < len(encoded) <= MAX_BYTES and b"\x00" not in encoded else b"-"
    target = password_hash.encode() if password_hash else _dummy_hash()
    try:
        matches = bcrypt.checkpw(candidate, target)
    except ValueError:  # a corrupt stored hash: no match, never a 500
        return False
    return matches and password_hash is not None and candidate == encoded


@cache
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"no such user, no such password", bcrypt.gensalt(
        get_settings().bcrypt_rounds))
