"""clickhouse-connect clients for the warehouse.

Embedded (CLICKHOUSE_URL unset): chdb through clickhouse-connect's `interface="chdb"`, on the
directory `settings.warehouse_path`. The engine allows ONE process per directory (a second
one fails with `Cannot lock file .../status`) and ONE directory per process (while any
handle is open); inside the owning process any number of handles and threads share it.
Each clickhouse-connect chdb client owns one engine handle guarded by a lock, so a shared
client is safe but serializes its callers; `get_client()` therefore hands every thread its
own client, which lets queries from a thread pool run in parallel (and next to a dbt
refresh, whose adapter opens its own handles).

Server (CLICKHOUSE_URL set): HTTP, also one client per thread, without a session id.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from infra.settings import Settings, get_settings

_local = threading.local()
_lock = threading.Lock()
_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_generation = 0


def http_target(settings: Settings) -> dict[str, Any]:
    """host/port/secure/credentials of CLICKHOUSE_URL (user/password: URL, else settings)."""
    if not settings.clickhouse_url:
        raise ValueError("CLICKHOUSE_URL is not set: the warehouse is embedded")
    url = urlparse(settings.clickhouse_url)
    secure = url.scheme == "https"
    return {
        "host": url.hostname or "",
        "port": url.port or (8443 if secure else 8123),
        "secure": secure,
        "username": url.username or settings.clickhouse_user,
        "password": url.password or settings.clickhouse_password,
    }


def new_client(settings: Settings | None = None, *, database: str | None = None) -> Client:
    """A new, uncached client (the caller closes it)."""
    s = settings or get_settings()
    if s.embedded_warehouse:
        s.warehouse_path.mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(
            interface="chdb", path=str(s.warehouse_path), database=database
        )
    t = http_target(s)
    return clickhouse_connect.get_client(
        interface="https" if t["secure"] else "http",
        host=t["host"],
        port=t["port"],
        username=t["username"],
        password=t["password"],
        database=database,
        autogenerate_session_id=False,  # sessions are per-connection state: unsafe to share
    )


def get_client() -> Client:
    """This thread's client (created on first use, then cached).

    The returned client may also be handed to another thread: every call is serialized on
    its own lock, so that is safe, just not parallel.
    """
    cached = getattr(_local, "client", None)
    if cached is not None and _local.generation == _generation:
        return cached
    client = new_client()
    with _lock:
        _clients.add(client)
        _local.client, _local.generation = client, _generation
    return client


def get_session_client(key: str, settings: Sequence[tuple[str, Any]], *,
                       database: str | None = None) -> Client:
    """This thread's client whose session carries `settings`, SET in the given order
    (created on first use for this `key` and these settings, then cached).

    Session settings bind every later query of the client: e.g. a trailing
    ("readonly", 1) locks in the ones before it, since a read-only session refuses any
    SET or SETTINGS clause. Closed by `close_clients()` like `get_client()`'s.
    """
    sessions: dict[tuple[str, tuple[tuple[str, Any], ...]], Client] | None = getattr(
        _local, "sessions", None)
    if sessions is None or getattr(_local, "sessions_generation", None) != _generation:
        sessions = {}
        _local.sessions, _local.sessions_generation = sessions, _generation
    cache_key = (key, tuple(settings))
    cached = sessions.get(cache_key)
    if cached is not None:
        return cached
    client = new_client(database=database)
    try:
        for name, value in settings:
            client.set_client_setting(name, value)
    except Exception:
        client.close()
        raise
    with _lock:
        _clients.add(client)
    sessions[cache_key] = client
    return client


def close_clients() -> None:
    """Close every client `get_client()` handed out, in all threads.

    The embedded engine stays bound to its directory while any handle is open, so this is
    what lets the same process open another warehouse path afterwards (tests) or lets
    another process take the warehouse over.
    """
    global _generation
    with _lock:
        _generation += 1
        clients = list(_clients)
        _clients.clear()
    for client in clients:
        client.close()
    _local.__dict__.pop("client", None)
    _local.__dict__.pop("sessions", None)
