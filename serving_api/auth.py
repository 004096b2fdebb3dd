"""Who may read which shop's reports on the serving API (issue 10 §1).

A caller authenticates with the core's access token (`Authorization: Bearer ...`, from
the core API's POST /auth/login or /auth/totp/confirm): the core's own verification
(`marketplace_core.accounts.tokens.decode_access_token`: HS256 signature with the one
`CORE_JWT_SECRET` of the settings, expiry, type) runs on every request, then the core's
`authenticate_access_token` (account active, session not revoked; the role comes from
the database, not from the token) on a read-only connection to the core's database.

- seller: the shops of the merchants they are a member of (`ownership.merchant_ids_of`,
  then `catalog.list_shops`); any other shop id, existing or not, is 404 SHOP_NOT_FOUND
  with the same message, so ids cannot be probed;
- admin, analyst: every shop;
- buyer: 403 FORBIDDEN (before any shop lookup);
- no token, a malformed, tampered or wrongly signed token: 401 UNAUTHORIZED; an expired
  one: 401 TOKEN_EXPIRED; a deactivated account or ended session: 401 UNAUTHORIZED;
- the platform's own processes (the reconciliation, benchmarks): `X-Internal-Token` with
  the settings' internal token reads every shop (it already reads every mart row through
  /internal/marts); a wrong one is 401.

The account state and a seller's shop ids are cached per session for
`SERVING_ACCESS_CACHE_SECONDS` (5 s): the core stays the only owner of memberships, and a
report request costs no Postgres round trip while the cache is warm.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool, PoolTimeout

from infra.settings import get_settings
from marketplace_core.accounts.ownership import merchant_ids_of
from marketplace_core.accounts.principal import ROLES_READING_ALL_REPORTS
from marketplace_core.accounts.service import authenticate_access_token
from marketplace_core.accounts.tokens import AccessClaims, decode_access_token
from marketplace_core.catalog.service import list_shops
from platform_common.errors import (
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
    UnauthorizedError,
)

_bearer = HTTPBearer(
    auto_error=False,
    description="The core's access token (core API POST /auth/login): a seller, an admin "
                "or an analyst")
INTERNAL = "internal"


@dataclass(frozen=True)
class Reader:
    """The caller of a report: a role, and the shops it may read (None: every shop)."""

    user_id: UUID | None
    role: str
    shop_ids: frozenset[UUID] | None

    def may_read(self, shop_id: UUID) -> bool:
        return self.shop_ids is None or shop_id in self.shop_ids

    def require_shop(self, shop_id: UUID) -> None:
        """404 SHOP_NOT_FOUND unless the caller may read the shop: the same answer for a
        shop of another seller and for an id that does not exist."""
        if not self.may_read(shop_id):
            raise shop_not_found(shop_id)


def shop_not_found(shop_id: UUID) -> NotFoundError:
    return NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")


class AccessDirectory:
    """The core's answers about callers (account state, role, a seller's shops), read on
    a read-only pool and remembered for `ttl` seconds per (user, session)."""

    MAX_ENTRIES = 10_000

    def __init__(self, pool: ConnectionPool, ttl: float) -> None:
        self.pool, self.ttl = pool, ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[UUID, UUID | None], tuple[float, Reader]] = {}

    def reader(self, claims: AccessClaims) -> Reader:
        key = (claims.user_id, claims.session_id)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        reader = self._load(claims)
        if self.ttl > 0:
            with self._lock:
                if len(self._cache) >= self.MAX_ENTRIES:
                    self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    if len(self._cache) >= self.MAX_ENTRIES:
                        self._cache.clear()
                self._cache[key] = (now + self.ttl, reader)
        return reader

    def _load(self, claims: AccessClaims) -> Reader:
        try:
            with self.pool.connection() as conn:
                user = authenticate_access_token(conn, claims)
                shops: frozenset[UUID] | None = None
                if user.role == "seller":
                    shops = frozenset(
                        shop.id for merchant_id in merchant_ids_of(conn, user.id)
                        for shop in list_shops(conn, merchant_id=merchant_id))
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise ServiceUnavailableError(
                ErrorCode.SERVICE_UNAVAILABLE,
                "cannot check the caller's access right now; retry shortly") from exc
        return Reader(user_id=user.id, role=user.role, shop_ids=shops)


def _directory(request: Request) -> AccessDirectory:
    directory: AccessDirectory = request.app.state.access
    return directory


async def report_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_internal_token: Annotated[str | None, Header(
        include_in_schema=False)] = None,
) -> Reader:
    """The caller of a report, if it may read reports at all (else 401/403)."""
    if x_internal_token is not None:
        if not secrets.compare_digest(x_internal_token.encode(),
                                      get_settings().internal_token.encode()):
            raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "wrong X-Internal-Token")
        return Reader(user_id=None, role=INTERNAL, shop_ids=None)
    if credentials is None:
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "a bearer access token is required")
    claims = decode_access_token(credentials.credentials)
    reader = await run_in_threadpool(_directory(request).reader, claims)
    if reader.role != "seller" and reader.role not in ROLES_READING_ALL_REPORTS:
        raise ForbiddenError(
            ErrorCode.FORBIDDEN, "reports are for sellers, admins and analysts")
    return reader


ReportReader = Annotated[Reader, Depends(report_reader)]
