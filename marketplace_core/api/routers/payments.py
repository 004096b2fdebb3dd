"""Payments of orders, full refunds, and the platform's take rate (admin).

Paying: the buyer starts a payment and is sent to the PSP's confirmation URL; the PSP
reports the outcome to `POST /webhooks/psp` (see the webhooks router), which pays the
order and the seller at once.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from marketplace_core.accounts import ownership
from marketplace_core.api.auth import AdminUser, AuthenticatedUser, CurrentUser, SellerOrAdmin
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.payments import (
    PaymentOut,
    RefundOut,
    RefundRequest,
    TakeRateIn,
    TakeRateOut,
)
from marketplace_core.db import Connection, transaction
from marketplace_core.orders import service as orders
from marketplace_core.payments import refunds, service, take_rate

router = APIRouter(tags=["payments"])


def _assert_order_party(conn: Connection, user: AuthenticatedUser, order_id: UUID) -> None:
    """The order's buyer, a seller managing its shop, or an admin (else 403; 404 for no
    such order)."""
    order = orders.get_order(conn, order_id)
    if order.buyer_id != user.id:
        ownership.assert_can_manage_shop(conn, user, order.shop_id)


@router.post(
    "/orders/{order_id}/payments", status_code=201, response_model=PaymentOut,
    summary="Pay for an order: a pending payment and the PSP's confirmation URL",
    description="Only the order's buyer, while the order is pending_payment. 201 with a "
    "new payment; 200 with the pending payment that already exists (calling again is "
    "safe).",
    responses={200: {"model": PaymentOut, "description": "The existing pending payment"},
               **error_responses(401, 403, 404, 409, 422)},
)
def start_payment(order_id: UUID, user: CurrentUser, pool: Pool, response: Response) -> (
        PaymentOut):
    with transaction(pool) as conn:
        started = service.start_payment(conn, order_id, user)
    if not started.created:
        response.status_code = 200
    return PaymentOut.of(started.payment)


@router.get(
    "/orders/{order_id}/payments", response_model=list[PaymentOut],
    summary="An order's payments (its buyer, the seller managing the shop, or an admin)",
    responses=error_responses(401, 403, 404, 422),
)
def list_payments(order_id: UUID, user: CurrentUser, pool: Pool) -> list[PaymentOut]:
    with transaction(pool) as conn:
        _assert_order_party(conn, user, order_id)
        return [PaymentOut.of(p) for p in service.list_for_order(conn, order_id)]


@router.post(
    "/orders/{order_id}/refunds", status_code=201, response_model=RefundOut,
    summary="Refund an order in full (the seller managing its shop, or an admin)",
    description="Refunds are full only: an `amount` other than the paid one is 422 "
    "PARTIAL_REFUND_NOT_ALLOWED; a second refund is 409 ALREADY_REFUNDED; an order "
    "without a successful payment is 409 ORDER_NOT_PAID. With the simulator the refund "
    "succeeds at once (status succeeded, order refunded); a PSP that refunds "
    "asynchronously leaves it `requested` until its refund.succeeded webhook.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def request_refund(order_id: UUID, user: SellerOrAdmin, pool: Pool,
                   body: RefundRequest | None = None) -> RefundOut:
    with transaction(pool) as conn:
        order = orders.get_order(conn, order_id)
        ownership.assert_can_manage_shop(conn, user, order.shop_id)
        refund = refunds.request_refund(conn, order_id, user,
                                        amount=body.amount if body else None)
    return RefundOut.of(refund)


@router.get(
    "/orders/{order_id}/refunds", response_model=list[RefundOut],
    summary="An order's refunds (its buyer, the seller managing the shop, or an admin)",
    responses=error_responses(401, 403, 404, 422),
)
def list_refunds(order_id: UUID, user: CurrentUser, pool: Pool) -> list[RefundOut]:
    with transaction(pool) as conn:
        _assert_order_party(conn, user, order_id)
        return [RefundOut.of(r) for r in refunds.list_for_order(conn, order_id)]


@router.get(
    "/admin/take-rate", response_model=TakeRateOut,
    summary="The platform's commission on online sales now in force (admin)",
    responses=error_responses(401, 403),
)
def get_take_rate(user: AdminUser, pool: Pool) -> TakeRateOut:
    with transaction(pool) as conn:
        return TakeRateOut.of(take_rate.current(conn))


@router.put(
    "/admin/take-rate", response_model=TakeRateOut,
    summary="Set the platform's commission (admin, audited); applies to later payments",
    description="A decimal string between 0 and 0.5 with at most 4 decimals (0.05 = 5 %);"
    " anything else is 422 INVALID_TAKE_RATE (a float is 422 INVALID_REQUEST).",
    responses=error_responses(401, 403, 422),
)
def put_take_rate(body: TakeRateIn, user: AdminUser, pool: Pool) -> TakeRateOut:
    with transaction(pool) as conn:
        return TakeRateOut.of(take_rate.set_rate(conn, body.rate, user))
