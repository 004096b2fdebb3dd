"""Shops of a merchant: created and changed by the merchant's owner or an admin (audited);
their public details (address, phone, location, market) are readable by anyone.
Payout onboarding (payout_status) is not changed here."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from marketplace_core import audit
from marketplace_core.accounts import ownership
from marketplace_core.api.auth import SellerOrAdmin
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.catalog import ShopCreate, ShopOut, ShopPatch
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from marketplace_core.errors import ErrorCode, NotFoundError

router = APIRouter(tags=["shops"])


@router.post(
    "/merchants/{merchant_id}/shops", status_code=201, response_model=ShopOut,
    summary="Open a shop of the merchant (its owner or an admin)",
    responses=error_responses(401, 403, 404, 422),
)
def create_shop(merchant_id: UUID, body: ShopCreate, user: SellerOrAdmin, pool: Pool) -> ShopOut:
    with transaction(pool) as conn:
        ownership.assert_can_manage_merchant(conn, user, merchant_id)
        shop = catalog.create_shop(
            conn, merchant_id, body.name, address=body.address, phone=body.phone,
            lat=body.lat, lon=body.lon, market=body.market)
        audit.record(conn, user, "shop.create", "shop", shop.id,
                     body.model_dump(mode="json", exclude_none=True))
    return ShopOut.model_validate(shop)


@router.get(
    "/shops/{shop_id}", response_model=ShopOut, summary="A shop's public details",
    responses=error_responses(404, 422),
)
def get_shop(shop_id: UUID, pool: Pool) -> ShopOut:
    with transaction(pool) as conn:
        shop = catalog.get_shop(conn, shop_id)
    if shop is None:
        raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
    return ShopOut.model_validate(shop)


@router.patch(
    "/shops/{shop_id}", response_model=ShopOut,
    summary="Change a shop's name, address, phone, location or market (owner or admin)",
    responses=error_responses(401, 403, 404, 422),
)
def update_shop(shop_id: UUID, body: ShopPatch, user: SellerOrAdmin, pool: Pool) -> ShopOut:
    # fields left out stay as they are; fields sent as null are cleared (not the name)
    changes = {f: getattr(body, f) for f in body.model_fields_set if f != "name"}
    with transaction(pool) as conn:
        ownership.assert_can_manage_shop(conn, user, shop_id)
        shop = catalog.update_shop(conn, shop_id, name=body.name, **changes)
        audit.record(conn, user, "shop.update", "shop", shop_id,
                     body.model_dump(mode="json", exclude_unset=True))
    return ShopOut.model_validate(shop)
