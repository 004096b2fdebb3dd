"""Per-device rate limits.

HTTP (`POST /pos/heartbeat`, `POST /pos/sales`): each request takes one token from the
device's bucket in Postgres (`marketplace_core.ratelimit.take`), so every API process
shares one limit per device; an empty bucket answers 429 RATE_LIMITED with Retry-After.

Kafka (the ingest consumer): events are never dropped — the consumer asks how long to wait
for a device's batch and sleeps. That bucket stays in the consumer's memory: a device's
events are keyed by device, so one partition (one consumer of the group) carries them all,
and a Postgres round trip per batch would buy nothing.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from marketplace_core import ratelimit
from marketplace_core.db import Connection

HTTP_RATE_PER_SECOND = 20.0
HTTP_BURST = 40
KAFKA_EVENTS_PER_SECOND = 200.0
KAFKA_BURST = 2000
MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """`rate` tokens per second refill each key's bucket up to `burst`."""

    def __init__(self, rate: float, burst: int, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:  # unbounded keys would be a memory leak
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def _forget_full(self, now: float) -> None:
        # A bucket that would be full again carries no state worth keeping.
        full_after = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]

    def try_acquire(self, key: str, tokens: int = 1) -> float:
        """Take `tokens` if available and return 0.0; else take nothing and return the
        seconds until they would be (the HTTP path: refuse with Retry-After)."""
        with self._lock:
            now = self._clock()
            bucket = self._refilled(key, now)
            if bucket.tokens >= tokens:
                bucket.tokens -= tokens
                return 0.0
            return (tokens - bucket.tokens) / self.rate

    def reserve(self, key: str, tokens: int) -> float:
        """Take `tokens` now, going into debt if needed, and return how long the caller must
        wait before acting (the Kafka path: excess is delayed, never dropped)."""
        with self._lock:
            now = self._clock()
            bucket = self._refilled(key, now)
            bucket.tokens -= tokens
            return 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate


@dataclass(frozen=True)
class HttpLimit:
    """`rate` requests a second per device, bursts of up to `burst`."""

    rate: float = HTTP_RATE_PER_SECOND
    burst: int = HTTP_BURST


_http_limit = HttpLimit()
SCOPE = "pos-http"


def http_limit() -> HttpLimit:
    return _http_limit


def set_http_limit(limit: HttpLimit) -> HttpLimit:
    """Replace the process's HTTP limit (tests); returns the previous one."""
    global _http_limit
    previous, _http_limit = _http_limit, limit
    return previous


def take_http(conn: Connection, token: str) -> float:
    """Take one request of the device holding `token` (keyed by the token's digest, before
    any other database work): 0.0, or the seconds to wait. Commit at once."""
    limit = _http_limit
    key = ratelimit.key_digest(SCOPE, hashlib.sha256(token.encode()).hexdigest())
    return ratelimit.take(conn, SCOPE, key, rate=limit.rate, burst=limit.burst)
