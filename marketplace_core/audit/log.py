"""Writing and reading audit entries.

The audit log says who did what to which entity, never with what secret: `record` drops
the value of any detail whose name says it is a credential (password, token, secret,
code, TOTP...), however deep in the details, so a caller that passes a request body
through cannot leak one into the table.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from marketplace_core.db import Connection
from marketplace_core.errors import ErrorCode, ValidationError

MAX_LIST_LIMIT = 1000
# Detail names whose values are never stored (an error `code` such as INVALID_TOTP is
# not a secret: only 4-8 digit codes are dropped under a name ending in "code").
_SECRET_NAME = re.compile(
    r"(?i)(password|passwd|secret|token|totp|otp|pepper|api_?key|signature|delivery_code"
    r"|pickup_code)")
_CODE_NAME = re.compile(r"(?i)code$")
_DIGIT_CODE = re.compile(r"\d{4,8}")  # a code; an HTTP status_code (3 digits) is kept
REDACTED = "[redacted]"


class Actor(Protocol):
    """Anything with the caller's id, role and address (e.g. an AuthenticatedUser)."""

    @property
    def id(self) -> UUID: ...
    @property
    def role(self) -> str: ...
    @property
    def ip(self) -> str | None: ...


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor_id: UUID | None
    actor_role: str | None
    action: str
    entity_type: str
    entity_id: str | None
    details: Any
    ip: str | None
    created_at: datetime


def _inet(value: str | None) -> str | None:
    # Test clients and some proxies report a host name ("testclient"): not an address, so
    # it is kept out of the inet column rather than failing the caller's change.
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def scrub(value: Any) -> Any:
    """`value` with the values of credential-named keys replaced by REDACTED."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = str(key)
            if _SECRET_NAME.search(name) or (
                    _CODE_NAME.search(name) and _DIGIT_CODE.fullmatch(str(item).strip())):
                out[key] = REDACTED
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


def _dumps(value: Any) -> str:
    # UUIDs, Decimals and datetimes become strings; Decimal amounts keep their exact digits.
    return json.dumps(value, default=str, ensure_ascii=False)


def record(
    conn: Connection,
    user: Actor | None,
    action: str,
    entity_type: str,
    entity_id: object,
    details: Any = None,
) -> int:
    """Append one entry in the caller's transaction; returns its id.

    `user` None means the system itself (a sweep, a webhook). `entity_id` is stored as
    text (UUIDs and ints alike); `details` as JSON.
    """
    if not action or not action.strip():
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "audit action must be non-empty")
    row = conn.execute(
        "insert into audit_log (actor_id, actor_role, action, entity_type, entity_id,"
        " details, ip) values (%s, %s, %s, %s, %s, %s, %s) returning id",
        (
            user.id if user else None,
            user.role if user else None,
            action,
            entity_type,
            None if entity_id is None else str(entity_id),
            None if details is None else Jsonb(scrub(details), dumps=_dumps),
            _inet(user.ip) if user else None,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def list_entries(
    conn: Connection,
    *,
    actor_id: UUID | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest entries first, filtered by any of actor, entity type and entity id."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"limit must be between 1 and {MAX_LIST_LIMIT}")
    with conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        return cur.execute(
            "select id, actor_id, actor_role, action, entity_type, entity_id, details,"
            " host(ip) as ip, created_at from audit_log"
            " where (%(actor)s::uuid is null or actor_id = %(actor)s)"
            "   and (%(etype)s::text is null or entity_type = %(etype)s)"
            "   and (%(eid)s::text is null or entity_id = %(eid)s)"
            " order by id desc limit %(limit)s",
            {"actor": actor_id, "etype": entity_type, "eid": entity_id, "limit": limit},
        ).fetchall()
