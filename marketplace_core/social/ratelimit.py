"""Rate limits on posting and commenting, kept in Postgres so every API process agrees.

A sliding window per (account, action): `social_rate_events` holds one row per counted
action. `check_and_count` serialises one account's actions with a transaction-scoped
advisory lock, counts the rows inside the window and refuses with 429 RATE_LIMITED
(Retry-After = seconds until the oldest counted row leaves the window), else records the
action. The same text repeated by one account (normalised: case and spaces) has its own,
tighter limit. Rows older than the longest window are deleted as the account acts.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, RateLimitedError


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


# action → limit; tests may replace entries (the dict is read at every call)
LIMITS: dict[str, Limit] = {
    "post": Limit(20, timedelta(hours=1)),
    "comment": Limit(30, timedelta(minutes=10)),
}
# the same text by one account, any action
REPEAT_LIMIT = Limit(3, timedelta(minutes=30))
_KEEP = timedelta(days=1)


def text_hash(text: str) -> str:
    norm = " ".join(text.lower().split())
    return hashlib.sha256(norm.encode()).hexdigest()[:32]


def _refuse(conn: Connection, oldest: datetime, window: timedelta, what: str) -> None:
    row = conn.execute("select clock_timestamp()").fetchone()
    assert row is not None
    wait = (oldest + window - row[0]).total_seconds()
    raise RateLimitedError(ErrorCode.RATE_LIMITED, f"too many {what}; retry later",
                           retry_after=max(1, math.ceil(wait)))


def check_and_count(conn: Connection, user_id: UUID, action: str,
                    text: str | None = None) -> None:
    """Refuse (RATE_LIMITED) or record one `action` of `user_id` in the caller's
    transaction."""
    limit = LIMITS[action]
    conn.execute("select pg_advisory_xact_lock(hashtext('social-rate'), hashtext(%s))",
                 (str(user_id),))
    row = conn.execute(
        "select count(*), min(at) from social_rate_events where user_id = %s and action = %s"
        " and at > clock_timestamp() - %s", (user_id, action, limit.window)).fetchone()
    assert row is not None
    if row[0] >= limit.count:
        # the oldest row that has to leave before one more fits
        oldest = conn.execute(
            "select at from social_rate_events where user_id = %s and action = %s"
            " and at > clock_timestamp() - %s order by at desc offset %s limit 1",
            (user_id, action, limit.window, limit.count - 1)).fetchone()
        _refuse(conn, oldest[0] if oldest else row[1], limit.window, f"{action}s")
    digest = text_hash(text) if text else None
    if digest is not None:
        rep = conn.execute(
            "select count(*), min(at) from social_rate_events where user_id = %s"
            " and text_hash = %s and at > clock_timestamp() - %s",
            (user_id, digest, REPEAT_LIMIT.window)).fetchone()
        assert rep is not None
        if rep[0] >= REPEAT_LIMIT.count:
            _refuse(conn, rep[1], REPEAT_LIMIT.window, "repeats of the same text")
    conn.execute("delete from social_rate_events where user_id = %s and at < now() - %s",
                 (user_id, _KEEP))
    conn.execute("insert into social_rate_events (user_id, action, text_hash) values"
                 " (%s, %s, %s)", (user_id, action, digest))
