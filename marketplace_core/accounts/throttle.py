"""Sign-in lockout with backoff, per account and per client address (state in Postgres).

Every endpoint that checks a password (login, TOTP enrolment and confirmation) runs its
attempt through `guarded`:

1. a locked account or address is refused before any password work: 429 LOGIN_LOCKED
   with Retry-After. The account is keyed by the e-mail as typed (normalised), whether or
   not it is registered, so the answer never tells which addresses have accounts;
2. the attempt runs in a savepoint while the account's lockout row is held, so parallel
   guesses at one account run one after the other and cannot slip past the threshold;
3. a wrong password or TOTP code is counted for the account and the address and the
   error is returned (not raised): the caller commits the count, then raises;
4. a success clears the account's failures and backoff. The address keeps its count (a
   valid account of one's own must not buy more guesses at other accounts).

Addresses are counted only when the peer is an IP address (an in-process test client
reports a host name); IPv6 peers are counted per /64, the block one subscriber holds.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from infra.settings import get_settings
from marketplace_core import ratelimit
from marketplace_core.db import Connection
from marketplace_core.errors import DomainError, ErrorCode, RateLimitedError, UnauthorizedError

T = TypeVar("T")

# The failures that guess a secret. ACCOUNT_DISABLED and TOTP_REQUIRED follow a correct
# password, so they are not counted.
COUNTED = frozenset({ErrorCode.INVALID_CREDENTIALS, ErrorCode.INVALID_TOTP})


def account_policy() -> ratelimit.Lockout:
    s = get_settings()
    return ratelimit.Lockout(
        "login-account", s.policy.login_max_failures,
        timedelta(seconds=s.policy.login_failure_window_seconds),
        timedelta(seconds=s.policy.login_lock_base_seconds),
        timedelta(seconds=s.policy.login_lock_max_seconds))


def address_policy() -> ratelimit.Lockout:
    s = get_settings()
    return ratelimit.Lockout(
        "login-address", s.policy.login_address_max_failures,
        timedelta(seconds=s.policy.login_failure_window_seconds),
        timedelta(seconds=s.policy.login_lock_base_seconds),
        timedelta(seconds=s.policy.login_lock_max_seconds))


def account_key(email: object) -> str:
    typed = email.strip().lower() if isinstance(email, str) else ""
    return ratelimit.key_digest("login-account", typed)


def address_key(ip: str | None) -> str | None:
    """The counted form of a client address; None when it is not an IP address."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    block = str(address)
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        block = str(mapped) if mapped else str(
            ipaddress.IPv6Network(f"{address}/64", strict=False))
    return ratelimit.key_digest("login-address", block)


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What a guarded attempt gave: its result, or the error to raise after commit."""

    result: T | None
    error: DomainError | None

    def result_or_raise(self) -> T:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def _locked(seconds: float) -> RateLimitedError:
    return RateLimitedError(ErrorCode.LOGIN_LOCKED,
                            "too many failed sign-in attempts; retry later",
                            retry_after=max(1, math.ceil(seconds)))


def guarded(conn: Connection, email: object, ip: str | None,
            attempt: Callable[[], T]) -> Attempt[T]:
    """Run `attempt` (a password check and what follows) under the lockout rules, in the
    caller's transaction. Raises LOGIN_LOCKED (nothing to commit); returns a counted
    failure as `Attempt.error` so that the caller commits the count before raising."""
    account, address = account_key(email), address_key(ip)
    by_account, by_address = account_policy(), address_policy()
    wait = ratelimit.locked_for(conn, by_account, account, hold=True)
    if address is not None:
        wait = max(wait, ratelimit.locked_for(conn, by_address, address))
    if wait > 0:
        raise _locked(wait)
    try:
        with conn.transaction():  # a savepoint: the attempt's writes go if it fails
            result = attempt()
    except UnauthorizedError as exc:
        if exc.code not in COUNTED:
            raise
        ratelimit.record_failure(conn, by_account, account)
        if address is not None:
            ratelimit.record_failure(conn, by_address, address)
        return Attempt(None, exc)
    ratelimit.clear(conn, by_account, account)
    return Attempt(result, None)
