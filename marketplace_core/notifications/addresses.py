"""Where a user is reached on each channel, sealed at rest (platform_common.sealing).

A user registers a push token, an e-mail or a phone number for notifications through
PUT /notifications/prefs; without one, e-mail and SMS go to the account's own e-mail and
phone. Only `masked` forms are ever logged or returned."""

from __future__ import annotations

from uuid import UUID

from marketplace_core.accounts import service as accounts
from marketplace_core.db import Connection
from marketplace_core.notifications.masking import mask
from platform_common.sealing import SealingError, seal, unseal


def set_address(conn: Connection, user_id: UUID, channel: str, address: str | None) -> None:
    """Store (sealed) or forget the user's address for `channel`."""
    if address is None:
        conn.execute("delete from notification_addresses where user_id = %s and channel = %s",
                     (user_id, channel))
        return
    conn.execute(
        "insert into notification_addresses (user_id, channel, sealed, masked)"
        " values (%s, %s, %s, %s) on conflict (user_id, channel) do update"
        " set sealed = excluded.sealed, masked = excluded.masked, updated_at = now()",
        (user_id, channel, seal(address), mask(channel, address)))


def masked_addresses(conn: Connection, user_id: UUID) -> dict[str, str]:
    rows = conn.execute("select channel, masked from notification_addresses where user_id = %s",
                        (user_id,)).fetchall()
    return {r[0]: r[1] for r in rows}


def address_for(conn: Connection, user_id: UUID, channel: str) -> str | None:
    """The plain address to send to, or None when the user has none on this channel."""
    row = conn.execute("select sealed from notification_addresses"
                       " where user_id = %s and channel = %s", (user_id, channel)).fetchone()
    if row is not None:
        try:
            return unseal(row[0])
        except SealingError:
            return None  # its key was dropped: as good as no address
    if channel == "push":
        return None
    account = accounts.get_user(conn, user_id)
    if account is None or not account.is_active:
        return None
    return account.email if channel == "email" else account.phone
