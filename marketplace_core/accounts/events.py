"""User change events on `core.users`: an account's state after a committed change.

Personal data stays in the core: the event carries the opaque user id, the role, the
status, the preferred language and the creation time, never the email, phone, name,
password hash or anything of 2FA. Call in the transaction that made the change, after the
row was written (the snapshot is read back, so it is exactly what commits).
"""

from __future__ import annotations

from uuid import UUID

from marketplace_core.db import Connection
from marketplace_core.outbox import emit
from schemas.topics import CORE_USERS

USER_EVENTS = ("user.registered", "user.updated")


def emit_user_changed(conn: Connection, user_id: UUID, event_type: str) -> UUID:
    """Publish the account's current (non-personal) state on core.users; returns the
    event id."""
    if event_type not in USER_EVENTS:
        raise ValueError(f"unknown user event type {event_type!r}")
    # Only non-personal columns are read here, so none can slip into the record.
    row = conn.execute(
        "select id, role, is_active, preferred_language, created_at from users where id = %s",
        (user_id,)).fetchone()
    if row is None:
        raise LookupError(f"user {user_id} does not exist")
    uid, role, is_active, language, created_at = row
    record = {"user_id": uid, "role": role, "status": "active" if is_active else "disabled",
              "preferred_language": language, "created_at": created_at}
    return emit(conn, CORE_USERS, entity_type="user", entity_id=uid, event_type=event_type,
                record=record)
