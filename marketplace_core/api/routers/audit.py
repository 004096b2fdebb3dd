"""The audit log, for admins."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from marketplace_core import audit
from marketplace_core.api.auth import AdminUser
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.accounts import AuditEntryResponse
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.audit.log import MAX_LIST_LIMIT
from marketplace_core.db import transaction

router = APIRouter(tags=["audit"])


@router.get(
    "/admin/audit-log", response_model=list[AuditEntryResponse],
    summary="Audit entries, newest first, filtered by actor and/or entity",
    responses=error_responses(401, 403, 422),
)
def audit_log(
    user: AdminUser,
    pool: Pool,
    actor_id: UUID | None = None,
    entity_type: Annotated[str | None, Query(max_length=100)] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 100,
) -> list[AuditEntryResponse]:
    with transaction(pool) as conn:
        entries = audit.list_entries(conn, actor_id=actor_id, entity_type=entity_type,
                                     entity_id=entity_id, limit=limit)
    return [AuditEntryResponse.model_validate(e) for e in entries]
