"""Accounts service: registration, login, refresh-token rotation, logout, TOTP enrolment.

Every function takes an open connection and does its work in the caller's transaction.
Sellers and admins must have TOTP 2FA on before they can log in (spec §14): their
registration returns a TOTP secret instead of tokens, and `confirm_totp` switches 2FA on
and logs them in.

TOTP seeds are stored sealed (`platform_common.sealing`, key DATA_ENCRYPTION_KEYS) and
opened only to check a code; `marketplace_core.reseal` reseals them on key rotation.

Refresh tokens rotate: each use consumes the token and issues the next one of the same
family. Presenting a consumed token again means two parties hold the family (a theft),
so the whole family is revoked — and that revocation must commit even though the caller
answers 401; `rotate_refresh_token` therefore returns its rejection instead of raising it
(see `RefreshResult`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from psycopg import errors as pg_errors
from psycopg.rows import class_row

from infra.settings import get_settings
from marketplace_core import audit
from marketplace_core.accounts import passwords, tokens, totp
from marketplace_core.accounts.events import emit_user_changed
from marketplace_core.accounts.principal import (
    ROLES,
    ROLES_REQUIRING_TOTP,
    AuthenticatedUser,
    Role,
)
from marketplace_core.accounts.tokens import AccessClaims
from marketplace_core.db import Connection, violated_constraint
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
)
from marketplace_core.reseal import SealedColumn
from platform_common import sealing

LANGUAGES = ("ru", "ky", "en", "zh", "kk", "uz")
# Columns holding sealed secrets (resealed by `python -m marketplace_core.reseal`).
SEALED_COLUMNS = (SealedColumn("users", "id", "totp_secret"),)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- records ------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: UUID
    email: str
    phone: str | None
    full_name: str
    role: str
    totp_enabled: bool
    preferred_language: str
    is_active: bool
    created_at: datetime


@dataclass(frozen=True)
class _Credentials:
    id: UUID
    email: str
    role: str
    password_hash: str
    totp_secret: str | None
    totp_enabled: bool
    totp_last_step: int | None
    is_active: bool


@dataclass(frozen=True)
class TotpEnrolment:
    """What an authenticator app needs: the base32 secret and its otpauth:// URI."""

    secret: str
    uri: str


@dataclass(frozen=True)
class Registration:
    user: User
    # Set for sellers and admins: they confirm it with a first code before logging in.
    totp: TotpEnrolment | None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user_id: UUID
    role: str
    token_type: str = "bearer"


@dataclass(frozen=True)
class RefreshResult:
    """The outcome of a rotation: new tokens, or the reason they were refused."""

    tokens: TokenPair | None = None
    rejection: UnauthorizedError | None = None

    def tokens_or_raise(self) -> TokenPair:
        if self.rejection is not None:
            raise self.rejection
        assert self.tokens is not None
        return self.tokens


_USER_COLS = ("id, email, phone, full_name, role, totp_enabled, preferred_language,"
              " is_active, created_at")
_CRED_COLS = ("id, email, role, password_hash, totp_secret, totp_enabled, totp_last_step,"
              " is_active")


# --- validation ---------------------------------------------------------------------


def normalize_email(email: str) -> str:
    """The canonical (trimmed, lower-case) form; INVALID_EMAIL if it is not an address."""
    value = email.strip().lower() if isinstance(email, str) else ""
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValidationError(ErrorCode.INVALID_EMAIL, "email must be an e-mail address")
    return value


def _actor(user_id: UUID, role: str, ip: str | None) -> AuthenticatedUser:
    return AuthenticatedUser(id=user_id, role=cast(Role, role), ip=ip)


def _require_text(value: str | None, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"{field} must be non-empty text")
    return value.strip()


# --- users --------------------------------------------------------------------------


def get_user(conn: Connection, user_id: UUID) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(f"select {_USER_COLS} from users where id = %s", (user_id,)).fetchone()


def get_user_by_email(conn: Connection, email: str) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(f"select {_USER_COLS} from users where lower(email) = lower(%s)",
                           (email.strip(),)).fetchone()


def register_user(
    conn: Connection,
    *,
    email: str,
    password: str,
    full_name: str,
    role: str,
    phone: str | None = None,
    preferred_language: str = "ru",
    ip: str | None = None,
    password_rounds: int | None = None,
) -> Registration:
    """Create a user. Sellers and admins get a TOTP secret to confirm (`confirm_totp`).
    Emits user.registered on core.users (no personal data in it).

    Raises INVALID_EMAIL, WEAK_PASSWORD, INVALID_ROLE, INVALID_LANGUAGE (422),
    EMAIL_TAKEN (409). `password_rounds` overrides the BCrypt cost (fixtures only).
    """
    if role not in ROLES:
        raise ValidationError(ErrorCode.INVALID_ROLE, f"role must be one of {ROLES}")
    if preferred_language not in LANGUAGES:
        raise ValidationError(
            ErrorCode.INVALID_LANGUAGE, f"preferred_language must be one of {LANGUAGES}")
    address = normalize_email(email)
    name = _require_text(full_name, "full_name")
    password_hash = passwords.hash_password(password, rounds=password_rounds)
    secret = totp.new_secret() if role in ROLES_REQUIRING_TOTP else None
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(User)) as cur:
            user = cur.execute(
                "insert into users (email, phone, full_name, role, password_hash, totp_secret,"
                f" preferred_language) values (%s, %s, %s, %s, %s, %s, %s) returning {_USER_COLS}",
                (address, phone.strip() if phone else None, name, role, password_hash,
                 sealing.seal(secret) if secret else None, preferred_language),
            ).fetchone()
    except pg_errors.UniqueViolation as exc:
        if violated_constraint(exc) == "users_email_key":
            raise ConflictError(ErrorCode.EMAIL_TAKEN, "this email is already registered") from exc
        raise
    assert user is not None
    emit_user_changed(conn, user.id, "user.registered")
    if role != "buyer":
        audit.record(conn, _actor(user.id, user.role, ip),
                     "auth.register", "user", user.id, {"role": role})
    enrolment = TotpEnrolment(secret, totp.provisioning_uri(secret, address)) if secret else None
    return Registration(user=user, totp=enrolment)


def create_admin(
    conn: Connection, *, email: str, password: str, full_name: str,
    password_rounds: int | None = None,
) -> Registration:
    """An admin account (never self-registered: the CLI and fixtures call this)."""
    return register_user(conn, email=email, password=password, full_name=full_name,
                         role="admin", password_rounds=password_rounds)


def create_analyst(
    conn: Connection, *, email: str, password: str, full_name: str,
    password_rounds: int | None = None,
) -> Registration:
    """An analyst account: reads every shop's reports on the serving API, manages nothing
    (never self-registered: the CLI and fixtures call this; TOTP 2FA like admins)."""
    return register_user(conn, email=email, password=password, full_name=full_name,
                         role="analyst", password_rounds=password_rounds)


def deactivate_user(conn: Connection, actor: AuthenticatedUser | None, user_id: UUID) -> None:
    """Switch an account off: its tokens stop working at once (sessions revoked too).
    Emits user.updated (status disabled)."""
    row = conn.execute("update users set is_active = false where id = %s returning id",
                       (user_id,)).fetchone()
    if row is None:
        raise NotFoundError(ErrorCode.USER_NOT_FOUND, f"user {user_id} does not exist")
    emit_user_changed(conn, user_id, "user.updated")
    conn.execute(
        "update refresh_token_families set revoked_at = now(), revoked_reason = 'deactivated'"
        " where user_id = %s and revoked_at is null", (user_id,))
    audit.record(conn, actor, "user.deactivate", "user", user_id)


# --- credentials ----------------------------------------------------------------------


def _authenticate(conn: Connection, email: str, password: str) -> _Credentials:
    """The user behind email + password (row locked), else INVALID_CREDENTIALS.

    The same answer, after the same BCrypt work, for an unknown email and a wrong
    password: a caller cannot learn which emails are registered.
    """
    key = email.strip() if isinstance(email, str) else ""
    with conn.cursor(row_factory=class_row(_Credentials)) as cur:
        creds = cur.execute(
            f"select {_CRED_COLS} from users where lower(email) = lower(%s) for update",
            (key,)).fetchone()
    if not passwords.verify_password(password, creds.password_hash if creds else None):
        raise UnauthorizedError(ErrorCode.INVALID_CREDENTIALS, "wrong email or password")
    assert creds is not None
    if not creds.is_active:
        raise UnauthorizedError(ErrorCode.ACCOUNT_DISABLED, "this account is disabled")
    return creds


def _accept_totp(conn: Connection, creds: _Credentials, code: str | None) -> None:
    if not code:
        raise UnauthorizedError(ErrorCode.TOTP_REQUIRED, "a TOTP code is required")
    assert creds.totp_secret is not None
    step = totp.matching_step(sealing.unseal(creds.totp_secret), code,
                              last_step=creds.totp_last_step)
    if step is None:
        raise UnauthorizedError(ErrorCode.INVALID_TOTP, "the TOTP code is wrong or was used")
    conn.execute("update users set totp_last_step = %s where id = %s", (step, creds.id))


def login(
    conn: Connection, email: str, password: str, totp_code: str | None = None,
    *, ip: str | None = None,
) -> TokenPair:
    """Tokens for valid credentials (and a valid TOTP code where 2FA applies).

    401 INVALID_CREDENTIALS / ACCOUNT_DISABLED / TOTP_REQUIRED / INVALID_TOTP;
    403 TOTP_ENROLMENT_REQUIRED for a seller or admin who has not switched 2FA on yet.
    """
    creds = _authenticate(conn, email, password)
    if creds.role in ROLES_REQUIRING_TOTP and not creds.totp_enabled:
        raise ForbiddenError(ErrorCode.TOTP_ENROLMENT_REQUIRED,
                             "enable TOTP 2FA first (POST /auth/totp/enrol, then confirm)")
    if creds.totp_enabled:
        _accept_totp(conn, creds, totp_code)
    if creds.role != "buyer":
        audit.record(conn, _actor(creds.id, creds.role, ip),
                     "auth.login", "user", creds.id)
    return issue_tokens(conn, creds.id, creds.role)


def start_totp_enrolment(
    conn: Connection, email: str, password: str, *, ip: str | None = None,
) -> TotpEnrolment:
    """A fresh TOTP secret for an account whose 2FA is not on yet (replaces any earlier
    unconfirmed one). Buyers may opt in too. 409 TOTP_ALREADY_ENABLED."""
    creds = _authenticate(conn, email, password)
    if creds.totp_enabled:
        raise ConflictError(ErrorCode.TOTP_ALREADY_ENABLED, "TOTP 2FA is already enabled")
    secret = totp.new_secret()
    conn.execute("update users set totp_secret = %s, totp_last_step = null where id = %s",
                 (sealing.seal(secret), creds.id))
    audit.record(conn, _actor(creds.id, creds.role, ip), "auth.totp_secret_issued", "user",
                 creds.id)
    return TotpEnrolment(secret, totp.provisioning_uri(secret, creds.email))


def confirm_totp(
    conn: Connection, email: str, password: str, code: str, *, ip: str | None = None,
) -> TokenPair:
    """Switch 2FA on with a first valid code, and log in.

    409 TOTP_ALREADY_ENABLED / TOTP_NOT_STARTED; 401 INVALID_CREDENTIALS / INVALID_TOTP.
    """
    creds = _authenticate(conn, email, password)
    if creds.totp_enabled:
        raise ConflictError(ErrorCode.TOTP_ALREADY_ENABLED, "TOTP 2FA is already enabled")
    if creds.totp_secret is None:
        raise ConflictError(ErrorCode.TOTP_NOT_STARTED, "start enrolment first")
    _accept_totp(conn, creds, code)
    conn.execute("update users set totp_enabled = true where id = %s", (creds.id,))
    audit.record(conn, _actor(creds.id, creds.role, ip),
                 "auth.totp_enrol", "user", creds.id)
    return issue_tokens(conn, creds.id, creds.role)


# --- tokens ---------------------------------------------------------------------------


def _new_refresh_token(conn: Connection, family_id: UUID) -> str:
    token = tokens.new_refresh_token()
    ttl = timedelta(seconds=get_settings().refresh_token_ttl_seconds)
    conn.execute(
        "insert into refresh_tokens (family_id, token_hash, expires_at)"
        " values (%s, %s, now() + %s)",
        (family_id, tokens.hash_refresh_token(token), ttl))
    return token


def issue_tokens(conn: Connection, user_id: UUID, role: str) -> TokenPair:
    """A new session: a refresh-token family with its first token, and an access token."""
    row = conn.execute("insert into refresh_token_families (user_id) values (%s) returning id",
                       (user_id,)).fetchone()
    assert row is not None
    family_id: UUID = row[0]
    refresh = _new_refresh_token(conn, family_id)
    access, ttl = tokens.issue_access_token(user_id, role, family_id)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=ttl,
                     user_id=user_id, role=role)


def _find_refresh_token(conn: Connection, token: str) -> tuple[Any, ...] | None:
    # Lock the family first: concurrent rotations of one family run one after the other,
    # so a token raced by two parties is seen as consumed by the second (reuse).
    return conn.execute(
        "select t.id, t.family_id, t.expires_at <= now(), t.consumed_at is not null,"
        " f.revoked_at is not null, u.id, u.role, u.is_active"
        " from refresh_tokens t"
        " join refresh_token_families f on f.id = t.family_id"
        " join users u on u.id = f.user_id"
        " where t.token_hash = %s for update of f, t",
        (tokens.hash_refresh_token(token),)).fetchone()


def _revoke_family(conn: Connection, family_id: UUID, reason: str) -> None:
    conn.execute(
        "update refresh_token_families set revoked_at = now(), revoked_reason = %s"
        " where id = %s and revoked_at is null", (reason, family_id))


def rotate_refresh_token(conn: Connection, token: str) -> RefreshResult:
    """Consume a refresh token and issue the next one of its family.

    Rejections (returned, not raised, so the caller commits the revocation first):
    INVALID_REFRESH_TOKEN (unknown), REFRESH_TOKEN_REUSED (already consumed: the whole
    family is revoked now), REFRESH_TOKEN_REVOKED (logged out or revoked earlier),
    REFRESH_TOKEN_EXPIRED, ACCOUNT_DISABLED.
    """
    def reject(code: ErrorCode, message: str) -> RefreshResult:
        return RefreshResult(rejection=UnauthorizedError(code, message))

    found = _find_refresh_token(conn, token) if isinstance(token, str) and token else None
    if found is None:
        return reject(ErrorCode.INVALID_REFRESH_TOKEN, "unknown refresh token")
    token_id, family_id, expired, consumed, revoked, user_id, role, active = found
    if consumed:
        _revoke_family(conn, family_id, "reuse")
        return reject(ErrorCode.REFRESH_TOKEN_REUSED,
                      "this refresh token was already used; the session has been revoked")
    if revoked:
        return reject(ErrorCode.REFRESH_TOKEN_REVOKED, "this session has been revoked")
    if expired:
        return reject(ErrorCode.REFRESH_TOKEN_EXPIRED, "the refresh token has expired")
    if not active:
        return reject(ErrorCode.ACCOUNT_DISABLED, "this account is disabled")
    conn.execute("update refresh_tokens set consumed_at = now() where id = %s", (token_id,))
    refresh = _new_refresh_token(conn, family_id)
    access, ttl = tokens.issue_access_token(user_id, role, family_id)
    return RefreshResult(tokens=TokenPair(access_token=access, refresh_token=refresh,
                                          expires_in=ttl, user_id=user_id, role=role))


def logout(conn: Connection, token: str) -> None:
    """End the session the refresh token belongs to (its whole family; idempotent).

    401 INVALID_REFRESH_TOKEN for a token that was never issued.
    """
    found = _find_refresh_token(conn, token) if isinstance(token, str) and token else None
    if found is None:
        raise UnauthorizedError(ErrorCode.INVALID_REFRESH_TOKEN, "unknown refresh token")
    _revoke_family(conn, found[1], "logout")


def authenticate_access_token(
    conn: Connection, claims: AccessClaims, ip: str | None = None,
) -> AuthenticatedUser:
    """The caller behind verified token claims, if the account is still active and the
    session (refresh-token family) was not revoked; 401 UNAUTHORIZED otherwise."""
    row = conn.execute(
        "select u.role, u.is_active, f.id is not null and f.revoked_at is null from users u"
        " left join refresh_token_families f on f.id = %(sid)s and f.user_id = u.id"
        " where u.id = %(uid)s",
        {"uid": claims.user_id, "sid": claims.session_id}).fetchone()
    if row is None or not row[1]:
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "this account is not active")
    if claims.session_id is not None and not row[2]:
        raise UnauthorizedError(ErrorCode.UNAUTHORIZED, "this session has ended")
    return _actor(claims.user_id, row[0], ip)
