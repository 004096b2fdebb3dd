"""Access tokens (JWT, HS256, short-lived) and refresh tokens (opaque, stored hashed).

Access token claims: sub (user id), role, type="access", iat, exp, jti, and sid (the
refresh-token family of the login, so that a logout or a theft detection ends the
session's access tokens too, not only its refresh tokens).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from infra.settings import get_settings
from marketplace_core.errors import ErrorCode, UnauthorizedError

ALGORITHM = "HS256"
ACCESS_TYPE = "access"


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    role: str
    session_id: UUID | None
    expires_at: datetime


def issue_access_token(
    user_id: UUID, role: str, session_id: UUID, *, now: datetime | None = None,
    ttl_seconds: int | None = None,
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    settings = get_settings()
    issued = now or datetime.now(UTC)
    ttl = ttl_seconds if ttl_seconds is not None else settings.access_token_ttl_seconds
    claims: dict[str, Any] = {
        "sub": str(user_id), "role": role, "type": ACCESS_TYPE, "sid": str(session_id),
        "iat": int(issued.timestamp()), "exp": int((issued + timedelta(seconds=ttl)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM), ttl


def decode_access_token(token: str) -> AccessClaims:
    """The claims of a valid access token; 401 TOKEN_EXPIRED or UNAUTHORIZED otherwise."""
    try:
        claims = jwt.decode(
            token, get_settings().jwt_secret, algorithms=[ALGORITHM],
            options={"require": ["sub", "role", "type", "iat", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise UnauthorizedError(ErrorCode.TOKEN_EXPIRED, "the access token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "the access token is invalid") from exc
    if claims.get("type") != ACCESS_TYPE:
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "not an access token")
    try:
        user_id = UUID(str(claims["sub"]))
        sid = claims.get("sid")
        session_id = UUID(str(sid)) if sid is not None else None
    except ValueError as exc:
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "the access token is invalid") from exc
    return AccessClaims(
        user_id=user_id, role=str(claims["role"]), session_id=session_id,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )


def new_refresh_token() -> str:
    """An opaque refresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What the database stores instead of the token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()
