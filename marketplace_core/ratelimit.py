"""Rate limits and lockouts kept in Postgres, so every API process (on any host) agrees.

Two shapes, one table each (migration 0018):

* Token buckets (`take`): `rate` tokens a second refill a key's bucket up to `burst`; a
  request takes one or is refused with the seconds until one is back. One upsert
  statement, atomic under concurrency (the row lock orders concurrent takers), committed
  at once by the caller so no request holds the bucket while it works.
* Lockouts with backoff (`Lockout`): failures of a key are counted (a failure more than
  `window` after the previous one starts the count afresh); the `threshold`-th locks the
  key for `base`, the next lock for 2 x base, then 4 x ... up to `cap`. The doubling is
  forgotten after a quiet `forget` period; `clear` (a success) forgets everything at once.

Keys are stored as `key_digest`s (HMAC under the code pepper, with the scope): the tables
never hold an e-mail address, a device token or a client address. Idle rows carry no
state worth keeping and are deleted by the `prune` sweep.

The social posting limits (`marketplace_core.social.ratelimit`) are a sliding window over
their own event rows (they also count repeated texts) and stay there.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from infra.settings import get_settings
from marketplace_core.db import Connection


def key_digest(scope: str, value: str) -> str:
    """The stored key of `value` in `scope`: unreadable without the pepper, stable."""
    pepper = get_settings().code_pepper.encode()
    return hmac.new(pepper, f"ratelimit:{scope}:{value}".encode(), hashlib.sha256).hexdigest()


# --- token buckets ------------------------------------------------------------------------

# The refilled level, from the row's own columns: under concurrent takers Postgres
# re-reads the locked row's latest version for these, so no take is lost.
_REFILLED = ("least(%(burst)s, b.tokens + greatest(0, extract(epoch from t.now - b.updated_at)"
             "::float8) * %(rate)s)")
_TAKE = (
    f"update rate_buckets b set tokens = case when {_REFILLED} >= 1 then {_REFILLED} - 1"
    f" else {_REFILLED} end, refused = {_REFILLED} < 1, updated_at = t.now"
    " from (select clock_timestamp() as now) t"
    " where b.scope = %(scope)s and b.key = %(key)s returning b.refused, b.tokens")


def take(conn: Connection, scope: str, key: str, *, rate: float, burst: int) -> float:
    """Take one token from `key`'s bucket: 0.0 if taken, else the seconds until one is
    available (nothing taken). Commit soon: the row stays locked until then."""
    if rate <= 0 or burst < 1:
        raise ValueError("rate must be > 0 and burst >= 1")
    params = {"scope": scope, "key": key, "burst": float(burst), "rate": float(rate)}
    conn.execute("insert into rate_buckets (scope, key, tokens, updated_at) values"
                 " (%(scope)s, %(key)s, %(burst)s, clock_timestamp()) on conflict do nothing",
                 params)
    row = conn.execute(_TAKE, params).fetchone()
    assert row is not None
    refused, tokens = row
    return (1.0 - float(tokens)) / rate if refused else 0.0


# --- lockouts with backoff -------------------------------------------------------------------

@dataclass(frozen=True)
class Lockout:
    """Lock a key for `base` x 2^n (n = locks so far, at most `cap`) after `threshold`
    failures within `window`."""

    scope: str
    threshold: int
    window: timedelta
    base: timedelta
    cap: timedelta
    forget: timedelta = timedelta(days=1)

    def lock_length(self, level: int) -> timedelta:
        # 2**level overflows nothing: the level stops mattering once the cap is reached.
        return min(self.base * (2 ** min(level, 30)), self.cap)


def locked_for(conn: Connection, policy: Lockout, key: str, *, hold: bool = False) -> float:
    """Seconds `key` stays locked (0.0 when open). `hold=True` also takes the key's row
    lock until the caller's transaction ends, so attempts on one key run one at a time and
    cannot race past the threshold together."""
    params = {"scope": policy.scope, "key": key}
    if hold:
        conn.execute("insert into rate_lockouts (scope, key) values (%(scope)s, %(key)s)"
                     " on conflict do nothing", params)
    row = conn.execute(
        "select greatest(0, extract(epoch from locked_until - clock_timestamp()))"
        " from rate_lockouts where scope = %(scope)s and key = %(key)s"
        + (" for update" if hold else ""), params).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def record_failure(conn: Connection, policy: Lockout, key: str) -> float:
    """Count one failure of `key`; returns the seconds of the lock it started (0.0 if it
    did not reach the threshold)."""
    params = {"scope": policy.scope, "key": key}
    conn.execute("insert into rate_lockouts (scope, key, last_failure_at) values"
                 " (%(scope)s, %(key)s, clock_timestamp()) on conflict do nothing", params)
    row = conn.execute(
        "select failures, level, last_failure_at < clock_timestamp() - %(window)s,"
        " last_failure_at < clock_timestamp() - %(forget)s, clock_timestamp()"
        " from rate_lockouts where scope = %(scope)s and key = %(key)s for update",
        {**params, "window": policy.window, "forget": policy.forget}).fetchone()
    assert row is not None
    failures, level, stale, forgotten, now = row
    failures = 1 if stale else failures + 1
    level = 0 if forgotten else level
    locked_until = None
    if failures >= policy.threshold:
        length = policy.lock_length(level)
        locked_until, failures, level = now + length, 0, level + 1
    conn.execute(
        "update rate_lockouts set failures = %(failures)s, level = %(level)s,"
        " locked_until = coalesce(%(until)s, locked_until), last_failure_at = %(now)s"
        " where scope = %(scope)s and key = %(key)s",
        {**params, "failures": failures, "level": level, "until": locked_until, "now": now})
    return (locked_until - now).total_seconds() if locked_until else 0.0


def clear(conn: Connection, policy: Lockout, key: str) -> None:
    """Forget `key`'s failures and backoff (a success)."""
    conn.execute("delete from rate_lockouts where scope = %s and key = %s", (policy.scope, key))


# --- housekeeping ----------------------------------------------------------------------------

BUCKET_IDLE = timedelta(hours=1)  # longer than any bucket takes to fill up again
LOCKOUT_IDLE = timedelta(days=1)  # = Lockout.forget: past it a row changes nothing
_PRUNE_BATCH = 5000


def prune(conn: Connection) -> int:
    """Delete rows that carry no state any more (a sweep); returns how many."""
    buckets = conn.execute(
        "delete from rate_buckets where (scope, key) in (select scope, key from rate_buckets"
        " where updated_at < now() - %s limit %s for update skip locked)",
        (BUCKET_IDLE, _PRUNE_BATCH)).rowcount
    lockouts = conn.execute(
        "delete from rate_lockouts where (scope, key) in (select scope, key from rate_lockouts"
        " where last_failure_at < now() - %s and coalesce(locked_until, '-infinity') < now()"
        " limit %s for update skip locked)", (LOCKOUT_IDLE, _PRUNE_BATCH)).rowcount
    return buckets + lockouts
