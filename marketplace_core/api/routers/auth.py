"""Registration, login, TOTP enrolment, token refresh and logout; the caller's profile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Response

from marketplace_core.accounts import service, throttle
from marketplace_core.api.auth import CurrentUser
from marketplace_core.api.deps import ClientIp, Pool
from marketplace_core.api.schemas.accounts import (
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenResponse,
    TotpConfirmRequest,
    TotpEnrolmentResponse,
    TotpEnrolRequest,
    UserResponse,
)
from marketplace_core.api.schemas.common import ErrorResponse, error_responses
from marketplace_core.db import Connection, transaction
from marketplace_core.errors import ErrorCode, UnauthorizedError

router = APIRouter(tags=["auth"])

# Password-checking endpoints answer 429 LOGIN_LOCKED after repeated failures
# (marketplace_core.accounts.throttle); the failure count commits before the 401.
_LOCKED: dict[int | str, dict[str, Any]] = {429: {
    "model": ErrorResponse,
    "description": "Too many failed sign-in attempts for this account or address "
                   "(LOGIN_LOCKED; Retry-After)"}}

T = TypeVar("T")


def _password_checked(
    pool: Any, email: str, ip: str | None, check: Callable[[Connection], T]
) -> T:
    """Run a password check under the sign-in lockout (`throttle.guarded`): the transaction
    commits the failure count before a rejection is raised."""
    with transaction(pool) as conn:
        attempt = throttle.guarded(conn, email, ip, lambda: check(conn))
    return attempt.result_or_raise()


def _tokens(pair: service.TokenPair) -> TokenResponse:
    return TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token,
                         expires_in=pair.expires_in)


@router.post(
    "/auth/register", status_code=201, response_model=RegisterResponse,
    summary="Register a buyer (tokens at once) or a seller (TOTP secret to confirm)",
    responses=error_responses(409, 422),
)
def register(body: RegisterRequest, pool: Pool, ip: ClientIp) -> RegisterResponse:
    with transaction(pool) as conn:
        reg = service.register_user(
            conn, email=body.email, password=body.password, full_name=body.full_name,
            role=body.role, phone=body.phone, preferred_language=body.preferred_language,
            ip=ip)
        pair = None if reg.totp else service.issue_tokens(conn, reg.user.id, reg.user.role)
    return RegisterResponse(
        user_id=reg.user.id, role=reg.user.role, totp_required=reg.totp is not None,
        totp_secret=reg.totp.secret if reg.totp else None,
        totp_uri=reg.totp.uri if reg.totp else None,
        access_token=pair.access_token if pair else None,
        refresh_token=pair.refresh_token if pair else None,
        token_type="bearer" if pair else None,
        expires_in=pair.expires_in if pair else None,
    )


@router.post(
    "/auth/login", response_model=TokenResponse,
    summary="Log in with email and password (plus a TOTP code for sellers and admins)",
    responses={**error_responses(401, 403, 422), **_LOCKED},
)
def login(body: LoginRequest, pool: Pool, ip: ClientIp) -> TokenResponse:
    return _tokens(_password_checked(pool, body.email, ip, lambda conn: service.login(
        conn, body.email, body.password, body.totp_code, ip=ip)))


@router.post(
    "/auth/totp/enrol", response_model=TotpEnrolmentResponse,
    summary="Get a new TOTP secret (2FA not yet enabled; e.g. the first one was lost)",
    responses={**error_responses(401, 409, 422), **_LOCKED},
)
def totp_enrol(body: TotpEnrolRequest, pool: Pool, ip: ClientIp) -> TotpEnrolmentResponse:
    enrolment = _password_checked(pool, body.email, ip, lambda conn: (
        service.start_totp_enrolment(conn, body.email, body.password, ip=ip)))
    return TotpEnrolmentResponse(totp_secret=enrolment.secret, totp_uri=enrolment.uri)


@router.post(
    "/auth/totp/confirm", response_model=TokenResponse,
    summary="Enable TOTP 2FA with a first code from the authenticator, and log in",
    responses={**error_responses(401, 409, 422), **_LOCKED},
)
def totp_confirm(body: TotpConfirmRequest, pool: Pool, ip: ClientIp) -> TokenResponse:
    return _tokens(_password_checked(pool, body.email, ip, lambda conn: service.confirm_totp(
        conn, body.email, body.password, body.code, ip=ip)))


@router.post(
    "/auth/refresh", response_model=TokenResponse,
    summary="Exchange a refresh token for new tokens (rotation; reuse revokes the session)",
    responses=error_responses(401, 422),
)
def refresh(body: RefreshRequest, pool: Pool) -> TokenResponse:
    # The transaction commits before a rejection is raised: a detected reuse must leave
    # the family revoked even though the answer is an error.
    with transaction(pool) as conn:
        result = service.rotate_refresh_token(conn, body.refresh_token)
    return _tokens(result.tokens_or_raise())


@router.post(
    "/auth/logout", status_code=204, response_class=Response,
    summary="End the session of a refresh token (all its tokens, and its access tokens)",
    responses=error_responses(401, 422),
)
def logout(body: RefreshRequest, pool: Pool) -> Response:
    with transaction(pool) as conn:
        service.logout(conn, body.refresh_token)
    return Response(status_code=204)


@router.get(
    "/users/me", response_model=UserResponse, summary="The logged-in user's profile",
    responses=error_responses(401),
)
def me(user: CurrentUser, pool: Pool) -> UserResponse:
    with transaction(pool) as conn:
        found = service.get_user(conn, user.id)
    if found is None:  # deleted between the token check and now
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "this account no longer exists")
    return UserResponse(
        id=found.id, email=found.email, phone=found.phone, full_name=found.full_name,
        role=found.role, totp_enabled=found.totp_enabled,
        preferred_language=found.preferred_language, created_at=found.created_at)
