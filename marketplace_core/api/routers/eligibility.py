"""Buy eligibility, payout onboarding and availability requests (spec §3.4, §4.4).

`GET /merchants/{id}/eligibility` and `GET /shops/{id}/eligibility` are public: the
product card shows "Buy" or the contact actions to anyone. Payout onboarding is for the
merchant's owner (or an admin), suspension for admins only; both are audited and announce
the shops' eligibility changes on core.shop_eligibility.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from marketplace_core import audit
from marketplace_core.accounts import ownership
from marketplace_core.api.auth import AdminUser, CurrentUser, SellerOrAdmin
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.orders import (
    AvailabilityRequestCreate,
    AvailabilityRequestResponse,
    MerchantEligibilityResponse,
    PayoutAccountResponse,
    PayoutChangeResponse,
    PayoutOnboardRequest,
    PayoutSuspendRequest,
    ShopEligibilityResponse,
)
from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from marketplace_core.errors import ErrorCode, NotFoundError
from marketplace_core.orders import availability, eligibility
from marketplace_core.payments import payout_accounts

router = APIRouter(tags=["eligibility and payouts"])


@router.get(
    "/merchants/{merchant_id}/eligibility", response_model=MerchantEligibilityResponse,
    summary="Buy eligibility of each shop of a merchant (public)",
    description="`online_purchase` while a POS terminal of the shop was heard within the "
                "heartbeat timeout (10 min) and payouts are active; otherwise "
                "`manual_contact` with the reasons and the contact actions to offer.",
    responses=error_responses(404, 422),
)
def merchant_eligibility(merchant_id: UUID, pool: Pool) -> MerchantEligibilityResponse:
    with transaction(pool) as conn:
        if catalog.get_merchant(conn, merchant_id) is None:
            raise NotFoundError(
                ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} does not exist")
        shop_ids = [s.id for s in catalog.list_shops(conn, merchant_id=merchant_id)]
        states = eligibility.eligibility_of_shops(conn, shop_ids)
    return MerchantEligibilityResponse(
        merchant_id=merchant_id, shops=[ShopEligibilityResponse.of(s) for s in states])


@router.get(
    "/shops/{shop_id}/eligibility", response_model=ShopEligibilityResponse,
    summary="Buy eligibility of one shop (public)",
    responses=error_responses(404, 422),
)
def shop_eligibility(shop_id: UUID, pool: Pool) -> ShopEligibilityResponse:
    with transaction(pool) as conn:
        return ShopEligibilityResponse.of(eligibility.shop_eligibility(conn, shop_id))


@router.get(
    "/merchants/{merchant_id}/payout", response_model=PayoutAccountResponse,
    summary="The merchant's payout account (owner or admin; the number is masked)",
    responses=error_responses(401, 403, 404, 422),
)
def get_payout_account(merchant_id: UUID, user: SellerOrAdmin, pool: Pool) -> (
        PayoutAccountResponse):
    with transaction(pool) as conn:
        ownership.assert_can_manage_merchant(conn, user, merchant_id)
        account = payout_accounts.get_payout_account(conn, merchant_id)
    if account is None:
        raise NotFoundError(
            ErrorCode.NOT_FOUND, f"merchant {merchant_id} has no payout account yet")
    return PayoutAccountResponse.of(account)


@router.post(
    "/merchants/{merchant_id}/payout/onboard", response_model=PayoutChangeResponse,
    summary="Set the payout account and activate payouts of the merchant's shops",
    description="Owner or admin. Replaces an earlier account. After an admin suspended "
                "the merchant's payouts only an admin can onboard again (409 "
                "PAYOUT_SUSPENDED). Audited; eligibility changes are published.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def onboard(merchant_id: UUID, body: PayoutOnboardRequest, user: SellerOrAdmin, pool: Pool) -> (
        PayoutChangeResponse):
    with transaction(pool) as conn:
        ownership.assert_can_manage_merchant(conn, user, merchant_id)
        account, states = payout_accounts.onboard(
            conn, merchant_id, provider=body.provider, account_number=body.account_number,
            bank_name=body.bank_name, account_holder=body.account_holder,
            by_admin=user.role == "admin")
        audit.record(conn, user, "payout.onboard", "merchant", merchant_id, {
            "provider": account.provider, "account_number": account.masked_number,
            "bank_name": account.bank_name})
    return PayoutChangeResponse(account=PayoutAccountResponse.of(account),
                                shops=[ShopEligibilityResponse.of(s) for s in states])


@router.post(
    "/merchants/{merchant_id}/payout/suspend", response_model=PayoutChangeResponse,
    summary="Suspend the merchant's payouts (admin): its shops fall back to manual contact",
    responses=error_responses(401, 403, 404, 422),
)
def suspend(merchant_id: UUID, body: PayoutSuspendRequest, user: AdminUser, pool: Pool) -> (
        PayoutChangeResponse):
    with transaction(pool) as conn:
        account, states = payout_accounts.suspend(conn, merchant_id, reason=body.reason)
        audit.record(conn, user, "payout.suspend", "merchant", merchant_id,
                     {"reason": body.reason})
    return PayoutChangeResponse(
        account=PayoutAccountResponse.of(account) if account else None,
        shops=[ShopEligibilityResponse.of(s) for s in states])


@router.post(
    "/shops/{shop_id}/availability-requests", status_code=201,
    response_model=AvailabilityRequestResponse,
    summary="Ask the shop whether an item is available (request_availability)",
    description="Any logged-in user. Without a message an automatic one is written.",
    responses=error_responses(401, 404, 422),
)
def request_availability(
    shop_id: UUID, body: AvailabilityRequestCreate, user: CurrentUser, pool: Pool
) -> AvailabilityRequestResponse:
    with transaction(pool) as conn:
        created = availability.request_availability(
            conn, shop_id, user.id, variant_id=body.variant_id, message=body.message)
    return AvailabilityRequestResponse.of(created)


@router.get(
    "/shops/{shop_id}/availability-requests",
    response_model=list[AvailabilityRequestResponse],
    summary="The shop's availability questions, newest first (owner or admin)",
    responses=error_responses(401, 403, 404, 422),
)
def list_availability_requests(
    shop_id: UUID, user: SellerOrAdmin, pool: Pool,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AvailabilityRequestResponse]:
    with transaction(pool) as conn:
        ownership.assert_can_manage_shop(conn, user, shop_id)
        found = availability.list_requests(conn, shop_id, limit=limit, offset=offset)
    return [AvailabilityRequestResponse.of(r) for r in found]
