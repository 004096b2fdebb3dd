"""Periodic sweeps the core runs beside the API: releasing expired reservations, noticing
POS terminals that went silent, renewing subscriptions.

A sweep is a function `(conn) -> int` (how many things it changed) that does its work in
the transaction it is given. Each runs under a Postgres advisory lock, so several API
processes can run sweepers without doing the same work twice.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable

from psycopg_pool import ConnectionPool

from marketplace_core.db import Connection

log = logging.getLogger("marketplace_core.sweeper")

Sweep = Callable[[Connection], int]


def registered_sweeps() -> list[tuple[str, Sweep]]:
    """The sweeps to run, by name (domain modules are imported here, lazily)."""
    sweeps: list[tuple[str, Sweep]] = []
    # Domain sweeps are appended here, one line each, e.g.
    #   from marketplace_core.orders.service import expire_reservations
    #   sweeps.append(("expire_reservations", expire_reservations))
    from marketplace_core.subscriptions.service import renew_subscriptions
    sweeps.append(("renew_subscriptions", renew_subscriptions))
    from marketplace_core.orders.eligibility import sweep_stale_pos
    from marketplace_core.orders.service import expire_reservations
    sweeps.extend([("expire_reservations", expire_reservations),
                   ("sweep_stale_pos", sweep_stale_pos)])
    from marketplace_core.pos.status import sweep_offline_devices
    sweeps.append(("sweep_offline_pos_devices", sweep_offline_devices))
    from marketplace_core.behaviour.intake import sweep_dedup
    sweeps.append(("sweep_behaviour_dedup", sweep_dedup))
    from marketplace_core.ads.campaigns import finish_ended_campaigns
    sweeps.append(("finish_ended_ad_campaigns", finish_ended_campaigns))
    from marketplace_core.ratelimit import prune
    sweeps.append(("prune_rate_limits", prune))
    from marketplace_core.ads.reporting import sweep as sweep_ad_serving
    sweeps.append(("sweep_ad_serving", sweep_ad_serving))
    from marketplace_core.chat.analytics import publish_started
    sweeps.append(("publish_chat_started", publish_started))
    return sweeps


def run_sweeps_once(pool: ConnectionPool) -> dict[str, int]:
    """Run every sweep once (each in its own transaction); returns changes per sweep."""
    done: dict[str, int] = {}
    for name, sweep in registered_sweeps():
        try:
            with pool.connection() as conn, conn.transaction():
                got = conn.execute(
                    "select pg_try_advisory_xact_lock(%s)", (zlib.crc32(name.encode()),)
                ).fetchone()
                if not (got and got[0]):
                    continue
                done[name] = sweep(conn)
        except Exception:
            log.exception("sweep %s failed; will retry next round", name)
    return done


class Sweeper:
    """Runs the sweeps every `interval` seconds on a daemon thread until stopped."""

    def __init__(self, pool: ConnectionPool, interval: float) -> None:
        self.pool = pool
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="core-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            changed = run_sweeps_once(self.pool)
            if any(changed.values()):
                log.info("sweeps: %s", changed)
