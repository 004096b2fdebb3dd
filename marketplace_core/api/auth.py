"""Authentication dependencies for the routers.

    @router.post(...)
    def handler(user: CurrentUser, pool: Pool): ...            # any logged-in user
    def handler(user: SellerOrAdmin, ...): ...                  # role-restricted
    def handler(user: Annotated[AuthenticatedUser, Depends(require_roles("admin"))]): ...
    def handler(user: OptionalUser, ...): ...                   # anonymous allowed

A request authenticates with `Authorization: Bearer <access token>`. Missing, malformed,
badly signed tokens → 401 UNAUTHORIZED; expired → 401 TOKEN_EXPIRED; a deactivated
account or a revoked session (logout, refresh-token theft) → 401 UNAUTHORIZED; a role
outside `require_roles(...)` → 403 FORBIDDEN. Ownership of merchants/shops/products is
checked in the handler with `marketplace_core.accounts.ownership`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from marketplace_core.accounts.principal import AuthenticatedUser, Role
from marketplace_core.accounts.service import authenticate_access_token
from marketplace_core.accounts.tokens import decode_access_token
from marketplace_core.api.deps import client_ip
from marketplace_core.errors import ErrorCode, ForbiddenError, UnauthorizedError

__all__ = [
    "AdminUser", "AuthenticatedUser", "CurrentUser", "OptionalUser", "SellerOrAdmin",
    "current_user", "optional_user", "require_roles",
]

# auto_error=False: we answer with our own error body (401 UNAUTHORIZED), and OpenAPI
# still shows the bearer scheme (the lock) on every route that depends on it.
_bearer = HTTPBearer(auto_error=False, description="Access token from POST /auth/login")

BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _authenticate(request: Request, credentials: HTTPAuthorizationCredentials) -> (
        AuthenticatedUser):
    claims = decode_access_token(credentials.credentials)
    with request.app.state.pool.connection() as conn:
        return authenticate_access_token(conn, claims, client_ip(request))


def current_user(request: Request, credentials: BearerCredentials) -> AuthenticatedUser:
    """The authenticated caller; 401 without a valid bearer access token."""
    if credentials is None:
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "a bearer access token is required")
    return _authenticate(request, credentials)


def optional_user(request: Request, credentials: BearerCredentials) -> AuthenticatedUser | None:
    """The caller if a token is sent (it must then be valid), else None."""
    if credentials is None:
        return None
    return _authenticate(request, credentials)


CurrentUser = Annotated[AuthenticatedUser, Depends(current_user)]
OptionalUser = Annotated[AuthenticatedUser | None, Depends(optional_user)]


def require_roles(*roles: Role) -> Callable[[AuthenticatedUser], AuthenticatedUser]:
    """A dependency giving the caller if its role is one of `roles`, else 403 FORBIDDEN."""
    allowed = frozenset(roles)

    def dependency(user: CurrentUser) -> AuthenticatedUser:
        if user.role not in allowed:
            raise ForbiddenError(
                ErrorCode.FORBIDDEN, f"this needs one of the roles: {', '.join(sorted(allowed))}")
        return user

    dependency.__name__ = f"require_roles_{'_'.join(sorted(allowed))}"
    return dependency


SellerOrAdmin = Annotated[AuthenticatedUser, Depends(require_roles("seller", "admin"))]
AdminUser = Annotated[AuthenticatedUser, Depends(require_roles("admin"))]
