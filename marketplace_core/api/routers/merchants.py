"""Merchants: a seller creates its merchant (and becomes its owner) and reads it.

Shops, products, eligibility and payouts of a merchant are other routers' business.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from marketplace_core import audit
from marketplace_core.accounts import ownership
from marketplace_core.api.auth import CurrentUser, SellerOrAdmin
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.accounts import MerchantCreateRequest, MerchantResponse
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.catalog import service as catalog
from marketplace_core.catalog.service import Merchant
from marketplace_core.db import transaction
from marketplace_core.errors import ErrorCode, ForbiddenError, NotFoundError, ValidationError

router = APIRouter(tags=["merchants"])


def _out(m: Merchant) -> MerchantResponse:
    return MerchantResponse(id=m.id, name=m.name, created_at=m.created_at)


@router.post(
    "/merchants", status_code=201, response_model=MerchantResponse,
    summary="Create a merchant; the seller (or, for admins, owner_user_id) owns it",
    responses=error_responses(401, 403, 404, 422),
)
def create_merchant(body: MerchantCreateRequest, user: SellerOrAdmin, pool: Pool) -> (
        MerchantResponse):
    if user.role == "seller":
        if body.owner_user_id not in (None, user.id):
            raise ForbiddenError(ErrorCode.FORBIDDEN, "a seller creates merchants for itself")
        owner_id = user.id
    elif body.owner_user_id is None:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "owner_user_id is required for admins")
    else:
        owner_id = body.owner_user_id
    with transaction(pool) as conn:
        merchant = catalog.create_merchant(conn, body.name)
        ownership.add_merchant_member(conn, merchant.id, owner_id)
        audit.record(conn, user, "merchant.create", "merchant", merchant.id,
                     {"name": merchant.name, "owner_user_id": owner_id})
    return _out(merchant)


@router.get(
    "/merchants/{merchant_id}", response_model=MerchantResponse,
    summary="A merchant its owner (or an admin) manages",
    responses=error_responses(401, 403, 404, 422),
)
def get_merchant(merchant_id: UUID, user: CurrentUser, pool: Pool) -> MerchantResponse:
    with transaction(pool) as conn:
        ownership.assert_can_manage_merchant(conn, user, merchant_id)
        merchant = catalog.get_merchant(conn, merchant_id)
    if merchant is None:
        raise NotFoundError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} does not exist")
    return _out(merchant)


@router.get(
    "/me/merchants", response_model=list[MerchantResponse],
    summary="The merchants the logged-in user owns",
    responses=error_responses(401),
)
def my_merchants(user: CurrentUser, pool: Pool) -> list[MerchantResponse]:
    with transaction(pool) as conn:
        return [_out(m) for m in ownership.merchants_of(conn, user.id)]
