"""Dependencies shared by the routers: the connection pool and the caller's address.

Handlers open their transaction explicitly (`with transaction(pool) as conn:`) so that the
commit happens before the response is sent: a client never sees success for a change that
then failed to commit. Authentication dependencies live in `marketplace_core.api.auth`.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request
from psycopg_pool import ConnectionPool

from infra.settings import get_settings
from marketplace_core.errors import ErrorCode, PayloadTooLargeError
from platform_common.http import ErrorResponse


def get_pool(request: Request) -> ConnectionPool:
    pool: ConnectionPool = request.app.state.pool
    return pool


def get_read_pool(request: Request) -> ConnectionPool:
    """Autocommit connections, for handlers that run one read-only statement."""
    pool: ConnectionPool = request.app.state.read_pool
    return pool


def client_ip(request: Request) -> str | None:
    """The caller's address. A platform process that forwards a browser's request (the
    serving API's dashboard sign-in) names the browser in X-Client-Address, believed
    only together with the internal token: anyone else could pick an address to dodge
    the per-address sign-in lockout or to blame another."""
    forwarded = request.headers.get("x-client-address")
    if forwarded:
        token = request.headers.get("x-internal-token") or ""
        if hmac.compare_digest(token.encode(), get_settings().internal_token.encode()):
            return forwarded.strip()[:64]
    return request.client.host if request.client else None


MAX_BODY_BYTES = 1_000_000


def limit_body(request: Request) -> None:
    """413 PAYLOAD_TOO_LARGE for a body over 1 MB (declared length); a router-wide
    dependency (`APIRouter(dependencies=[Depends(limit_body)])`), documented per route
    with `TOO_LARGE`."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(ErrorCode.PAYLOAD_TOO_LARGE,
                                   f"the body is larger than {MAX_BODY_BYTES} bytes")


TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Body too large (PAYLOAD_TOO_LARGE)"}}


Pool = Annotated[ConnectionPool, Depends(get_pool)]
ReadPool = Annotated[ConnectionPool, Depends(get_read_pool)]
ClientIp = Annotated[str | None, Depends(client_ip)]
