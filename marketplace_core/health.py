"""Health of the core's background workers, as `python -m infra status` reports it.

infra imports nothing from the application, so it runs this module as a child process:

    python -m marketplace_core.health outbox-relay | pos-ingest | notifications-worker

which prints one JSON line, `{"ok": true|false, "detail": "..."}`, and exits 0 (a probe
that cannot reach the database is an unhealthy answer, not an error).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable


def outbox_relay() -> tuple[bool, str]:
    """Some relay holds the leadership; how many rows wait and for how long."""
    from marketplace_core.outbox.relay import backlog, leader_present

    leading = leader_present()
    count, oldest = backlog()
    lag = f", oldest {oldest:.1f}s" if oldest is not None else ""
    return leading, f"{'leading' if leading else 'no leader'}; {count} unpublished{lag}"


def pos_ingest() -> tuple[bool, str]:
    from marketplace_core.pos.consumer import consumer_alive

    return consumer_alive()


def notifications_worker() -> tuple[bool, str]:
    from marketplace_core.notifications.worker import worker_alive

    return worker_alive()


PROBES: dict[str, Callable[[], tuple[bool, str]]] = {
    "outbox-relay": outbox_relay,
    "pos-ingest": pos_ingest,
    "notifications-worker": notifications_worker,
}


def probe(name: str) -> dict[str, object]:
    try:
        ok, detail = PROBES[name]()
    except Exception as exc:
        return {"ok": False, "detail": f"database: {type(exc).__name__}"}
    return {"ok": ok, "detail": detail}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in PROBES:
        print(f"usage: python -m marketplace_core.health {{{'|'.join(PROBES)}}}",
              file=sys.stderr)
        return 2
    print(json.dumps(probe(args[0])), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
