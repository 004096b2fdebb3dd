"""Terminal credentials: a bearer token (who is calling) and an HMAC secret (what it signed).

Both are shown once, when issued. The token is stored as its SHA-256 only: it is a random
256-bit value, so a plain hash is enough (no salt or slow hash needed) and a database leak
does not reveal it. Verifying a signature needs the secret itself, so it is stored sealed
(`platform_common.sealing`, key DATA_ENCRYPTION_KEYS) and opened where a signature is
checked; `marketplace_core.reseal` reseals it on key rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.db import Connection, advisory_xact_lock
from marketplace_core.errors import ConflictError, ErrorCode, NotFoundError, UnauthorizedError
from marketplace_core.pos import service as pos
from marketplace_core.pos.service import PosDevice
from marketplace_core.reseal import SealedColumn
from platform_common import sealing

TOKEN_PREFIX = "pos_"
_NEXT_ID_LOCK = zlib.crc32(b"marketplace_core.pos.next_device_id")
# Columns holding sealed secrets (resealed by `python -m marketplace_core.reseal`).
SEALED_COLUMNS = (SealedColumn("pos_devices", "id", "secret"),)


@dataclass(frozen=True)
class DeviceCredentials:
    device_id: str
    shop_id: UUID
    token: str
    secret: str


@dataclass(frozen=True)
class DeviceAuth:
    """What the ingest needs to check a device's events."""

    device_id: str
    shop_id: UUID
    status: str
    token_sha256: bytes | None
    secret: str | None


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_matches(auth: DeviceAuth, token: str | None) -> bool:
    """Constant-time comparison of a presented token with the stored digest."""
    if not token or auth.token_sha256 is None:
        return False
    return hmac.compare_digest(token_digest(token), auth.token_sha256)


def next_device_id(conn: Connection) -> str:
    """The next free conventional id (one more than the highest number in use). Call it in
    the registering transaction: an advisory lock keeps two registrations from picking the
    same number."""
    advisory_xact_lock(conn, _NEXT_ID_LOCK)
    # Only ids of the valid shape count: a 20-digit id (refused since issue 11, possibly
    # stored before) would overflow bigint and break every later registration.
    row = conn.execute(
        "select coalesce(max(substring(id from 5)::bigint), 0) from pos_devices "
        "where id ~ '^POS-[0-9]{4,12}$'").fetchone()
    return pos.device_id_for(int(row[0]) + 1 if row else 1)


def register_with_credentials(
    conn: Connection, shop_id: UUID, *, device_id: str | None = None,
    firmware_version: str | None = None, now: datetime | None = None,
) -> DeviceCredentials:
    """Register a terminal in the shop and issue its credentials. Raises SHOP_NOT_FOUND,
    INVALID_DEVICE_ID, DUPLICATE_DEVICE."""
    with conn.transaction():
        chosen = device_id or next_device_id(conn)
        pos.register_device(conn, chosen, shop_id, firmware_version=firmware_version)
        return issue_credentials(conn, chosen, now=now)


def issue_credentials(
    conn: Connection, device_id: str, *, now: datetime | None = None
) -> DeviceCredentials:
    """New token and secret for the device; the old ones stop working at commit (rotation).
    Raises DEVICE_NOT_FOUND, DEVICE_RETIRED."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    secret = secrets.token_hex(32)
    with conn.transaction():
        row = conn.execute(
            "select shop_id, status from pos_devices where id = %s for update", (device_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(ErrorCode.DEVICE_NOT_FOUND, f"device {device_id} is not registered")
        if row[1] == "retired":
            raise ConflictError(ErrorCode.DEVICE_RETIRED, f"device {device_id} is retired")
        conn.execute(
            "update pos_devices set token_sha256 = %s, secret = %s, credentials_issued_at = %s"
            " where id = %s",
            (token_digest(token), sealing.seal(secret), now or datetime.now(UTC), device_id))
    return DeviceCredentials(device_id, row[0], token, secret)


@lru_cache(maxsize=4096)
def _opened(stored: str, keys: str) -> str:
    # Every till event checks a signature: a device's secret is opened once per sealed
    # value and key list, not once per event. A rotation (a new sealed value) or a key
    # change (a new `keys`) misses the cache, so an old entry is never used for new data.
    return sealing.unseal(stored)


def open_secret(stored: str | None) -> str | None:
    """The signing secret behind a stored (sealed) value."""
    return None if stored is None else _opened(stored, get_settings().data_encryption_keys)


def device_auth(conn: Connection, device_id: str) -> DeviceAuth | None:
    row = conn.execute(
        "select id, shop_id, status, token_sha256, secret from pos_devices where id = %s",
        (device_id,)).fetchone()
    if row is None:
        return None
    device, shop, status, digest, stored = row
    return DeviceAuth(device, shop, status, digest, open_secret(stored))


def authenticate_token(conn: Connection, token: str | None) -> PosDevice:
    """The device a bearer token belongs to (HTTP path). A missing or unknown token, or a
    retired device → 401 INVALID_DEVICE_TOKEN (which one is not told)."""
    if token:
        row = conn.execute(
            "select id, status from pos_devices where token_sha256 = %s",
            (token_digest(token),)).fetchone()
        if row is not None and row[1] != "retired":
            device = pos.get_device(conn, row[0])
            if device is not None:
                return device
    raise UnauthorizedError(ErrorCode.INVALID_DEVICE_TOKEN, "missing or wrong device token")
