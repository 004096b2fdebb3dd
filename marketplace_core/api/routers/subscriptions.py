"""Seller subscriptions: the plans, and a merchant's plan, trial and auto-renewal."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from fastapi import APIRouter
from psycopg_pool import ConnectionPool

from marketplace_core.accounts import ownership
from marketplace_core.api.auth import AuthenticatedUser, SellerOrAdmin
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.subscriptions import (
    ChangePlanRequest,
    PlanOut,
    SubscriptionOut,
    SubscriptionPatch,
)
from marketplace_core.db import Connection, transaction
from marketplace_core.subscriptions import plans
from marketplace_core.subscriptions import service as subs

router = APIRouter(tags=["subscriptions"])


def _merchant_subscription(
    pool: ConnectionPool, user: AuthenticatedUser, merchant_id: UUID,
    act: Callable[[Connection], subs.Subscription],
) -> SubscriptionOut:
    """Read or change the merchant's subscription as its owner (or an admin)."""
    with transaction(pool) as conn:
        ownership.assert_can_manage_merchant(conn, user, merchant_id)
        sub = act(conn)
        return SubscriptionOut.of(sub, subs.count_skus(conn, sub.merchant_id))


@router.get(
    "/subscription-plans", response_model=list[PlanOut],
    summary="The plans: SKU limits and monthly prices (KGS)",
)
def list_plans(pool: Pool) -> list[PlanOut]:
    with transaction(pool) as conn:
        return [PlanOut.of(p) for p in plans.list_plans(conn)]


@router.get(
    "/merchants/{merchant_id}/subscription", response_model=SubscriptionOut,
    summary="The merchant's subscription (FREE until it chooses a plan)",
    responses=error_responses(401, 403, 404, 422),
)
def get_subscription(merchant_id: UUID, user: SellerOrAdmin, pool: Pool) -> SubscriptionOut:
    return _merchant_subscription(pool, user, merchant_id, lambda conn: (
        subs.get_subscription(conn, merchant_id)))


@router.post(
    "/merchants/{merchant_id}/subscription", response_model=SubscriptionOut,
    summary="Choose a plan: a 14-day trial the first time, else billed now; FREE downgrades",
    description="409 ALREADY_ON_PLAN if the merchant is on that plan already. Audited.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def change_plan(merchant_id: UUID, body: ChangePlanRequest, user: SellerOrAdmin,
                pool: Pool) -> SubscriptionOut:
    return _merchant_subscription(pool, user, merchant_id, lambda conn: (
        subs.change_plan(conn, merchant_id, body.plan, actor=user)))


@router.patch(
    "/merchants/{merchant_id}/subscription", response_model=SubscriptionOut,
    summary="Turn auto-renewal off (back to FREE when the period ends) or on again",
    description="409 SUBSCRIPTION_NOT_RENEWABLE on FREE. Audited.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def patch_subscription(merchant_id: UUID, body: SubscriptionPatch, user: SellerOrAdmin,
                       pool: Pool) -> SubscriptionOut:
    return _merchant_subscription(pool, user, merchant_id, lambda conn: (
        subs.set_auto_renew(conn, merchant_id, body.auto_renew, actor=user)))
