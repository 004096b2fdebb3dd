"""A merchant's instant payouts and money balance (its owner, or an admin)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from marketplace_core.accounts import ownership
from marketplace_core.api.auth import SellerOrAdmin
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.payments import BalanceOut, PayoutOut
from marketplace_core.db import transaction
from marketplace_core.payments import payouts

router = APIRouter(tags=["payouts"])


@router.get(
    "/merchants/{merchant_id}/payouts", response_model=list[PayoutOut],
    summary="The merchant's payouts, newest first",
    responses=error_responses(401, 403, 404, 422),
)
def list_payouts(
    merchant_id: UUID, user: SellerOrAdmin, pool: Pool,
    limit: Annotated[int, Query(ge=1, le=payouts.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PayoutOut]:
    with transaction(pool) as conn:
        ownership.assert_can_manage_merchant(conn, user, merchant_id)
        found = payouts.list_payouts(conn, merchant_id, limit=limit, offset=offset)
    return [PayoutOut.of(p) for p in found]


@router.get(
    "/merchants/{merchant_id}/balance", response_model=BalanceOut,
    summary="What the platform owes the merchant (from the ledger), and its payouts total",
    responses=error_responses(401, 403, 404, 422),
)
def get_balance(merchant_id: UUID, user: SellerOrAdmin, pool: Pool) -> BalanceOut:
    with transaction(pool) as conn:
        ownership.assert_can_manage_merchant(conn, user, merchant_id)
        return BalanceOut.of(payouts.merchant_balance(conn, merchant_id))
