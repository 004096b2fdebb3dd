"""The signed-in user's analytics privacy: opt out of behavioural events, erase the trail."""

from __future__ import annotations

from fastapi import APIRouter

from marketplace_core.accounts import pseudonyms
from marketplace_core.accounts.erasure import erase_analytics
from marketplace_core.api.auth import CurrentUser
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.behaviour import (
    ErasureResponse,
    PrivacyRequest,
    PrivacyResponse,
)
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.db import transaction

router = APIRouter(tags=["accounts"])


@router.get(
    "/users/me/privacy", response_model=PrivacyResponse,
    summary="The logged-in user's analytics settings", responses=error_responses(401),
)
def get_privacy(user: CurrentUser, pool: Pool) -> PrivacyResponse:
    with transaction(pool) as conn:
        return PrivacyResponse(analytics_opt_out=pseudonyms.is_opted_out(conn, user.id))


@router.put(
    "/users/me/privacy", response_model=PrivacyResponse,
    summary="Opt out of (or back into) behavioural analytics",
    description="While opted out, POST /events drops every event of this account "
                "(status `dropped`, code OPTED_OUT) and nothing reaches Kafka.",
    responses=error_responses(401, 422),
)
def put_privacy(body: PrivacyRequest, user: CurrentUser, pool: Pool) -> PrivacyResponse:
    with transaction(pool) as conn:
        pseudonyms.set_opt_out(conn, user.id, body.analytics_opt_out)
    return PrivacyResponse(analytics_opt_out=body.analytics_opt_out)


@router.post(
    "/users/me/erase", response_model=ErasureResponse,
    summary="Erase the account's behavioural trail (its analytics pseudonym)",
    description="Deletes the account's pseudonym salt, so the events already collected can "
                "no longer be tied to it, and records the orphaned pseudonym for the "
                "lake's erasure job. The account stays; later events get a new pseudonym "
                "unless the user also opts out.",
    responses=error_responses(401),
)
def erase(user: CurrentUser, pool: Pool) -> ErasureResponse:
    with transaction(pool) as conn:
        done = erase_analytics(conn, user.id)
    return ErasureResponse(erased=done is not None, erased_at=done[1] if done else None)
