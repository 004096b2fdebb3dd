"""Orders and pickup slots (spec §3.8, §3.9, §4.4).

Who sees an order: its buyer, the sellers of its merchant, admins; anyone else gets 404
ORDER_NOT_FOUND (order ids are private). Buyers place, cancel and get delivery codes;
sellers (or admins) hand over pickups and confirm deliveries, audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response
from psycopg_pool import ConnectionPool
from pydantic import AwareDatetime

from marketplace_core import audit
from marketplace_core.accounts import ownership, tenancy
from marketplace_core.api.auth import AuthenticatedUser, CurrentUser, SellerOrAdmin, require_roles
from marketplace_core.api.deps import Pool
from marketplace_core.api.schemas.common import error_responses
from marketplace_core.api.schemas.orders import (
    DeliveryCodeResponse,
    DeliveryConfirmRequest,
    OrderCreateRequest,
    OrderResponse,
    PickupSlotCreate,
    PickupSlotResponse,
)
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection, transaction
from marketplace_core.errors import ErrorCode, ForbiddenError, NotFoundError
from marketplace_core.orders import pickup
from marketplace_core.orders import service as orders
from marketplace_core.orders.service import Order, OrderRequest
from platform_common.validated import Text

router = APIRouter(tags=["orders"])

BuyerUser = Annotated[AuthenticatedUser, Depends(require_roles("buyer"))]
StatusFilter = Literal["pending_payment", "paid", "pickup_overdue", "completed", "cancelled",
                       "expired", "refunded"]


def _visible_order(conn: Connection, user: AuthenticatedUser, order_id: UUID) -> Order:
    order = orders.find_order(conn, order_id)
    if order is not None and (
        user.role == "admin" or order.buyer_id == user.id
        or (user.role == "seller"
            and order.merchant_id in ownership.merchant_ids_of(conn, user.id))
    ):
        return order
    raise NotFoundError(ErrorCode.ORDER_NOT_FOUND, f"order {order_id} does not exist")


def _seller_order(conn: Connection, user: AuthenticatedUser, order_id: UUID) -> Order:
    order = _visible_order(conn, user, order_id)
    if user.role not in ("seller", "admin"):
        raise ForbiddenError(ErrorCode.FORBIDDEN, "only the shop hands over its orders")
    return order


def _seller_step(
    pool: ConnectionPool, user: AuthenticatedUser, order_id: UUID,
    step: Callable[[Connection, UUID], Order], action: str,
) -> OrderResponse:
    """A seller's (or an admin's) step on an order, audited as `action`."""
    with transaction(pool) as conn:
        _seller_order(conn, user, order_id)
        done = step(conn, order_id)
        audit.record(conn, user, action, "order", order_id)
    return OrderResponse.of(done)


def _buyer_order(conn: Connection, user: AuthenticatedUser, order_id: UUID) -> Order:
    order = _visible_order(conn, user, order_id)
    if order.buyer_id != user.id and user.role != "admin":
        raise ForbiddenError(ErrorCode.FORBIDDEN, "only the buyer may do this")
    return order


# --- orders -----------------------------------------------------------------------------


@router.post(
    "/orders", status_code=201, response_model=OrderResponse,
    summary="Place an order (buyer): reserves the stock until payment",
    description="All items from one shop, which must be `online_purchase` (else 409 "
                "BUY_NOT_ELIGIBLE). Prices come from the catalog. Stock is held for "
                "`reservation_hold_minutes` (20-30 min) until payment, then until pickup. "
                "`Idempotency-Key` is required: the same key with the same body returns "
                "the same order (200), with a different body 409 IDEMPOTENCY_KEY_REUSED. "
                "Other errors: 404 SHOP_NOT_FOUND / VARIANT_NOT_FOUND / SLOT_NOT_FOUND, "
                "409 OUT_OF_STOCK (details per variant) / SLOT_FULL / SLOT_CLOSED, "
                "422 VARIANT_NOT_IN_SHOP.",
    responses={200: {"model": OrderResponse, "description": "Replay of an earlier request"},
               **error_responses(401, 403, 404, 409, 422)},
)
def place_order(
    body: OrderCreateRequest,
    user: BuyerUser,
    pool: Pool,
    response: Response,
    idempotency_key: Annotated[Text, Header(alias="Idempotency-Key", min_length=1,
                                           max_length=200)],
) -> OrderResponse:
    request = OrderRequest.of(
        body.shop_id, [(i.variant_id, i.qty) for i in body.items], body.fulfilment,
        pickup_slot_id=body.pickup_slot_id, delivery_address=body.delivery_address)
    with transaction(pool) as conn:
        placed = orders.place_order(conn, user.id, request, idempotency_key=idempotency_key)
    if not placed.created:
        response.status_code = 200
    return OrderResponse.of(placed.order)


@router.get(
    "/orders/{order_id}", response_model=OrderResponse,
    summary="An order (its buyer, the shop's sellers, admins)",
    responses=error_responses(401, 404, 422),
)
def get_order(order_id: UUID, user: CurrentUser, pool: Pool) -> OrderResponse:
    with transaction(pool) as conn:
        return OrderResponse.of(_visible_order(conn, user, order_id))


@router.get(
    "/me/orders", response_model=list[OrderResponse],
    summary="The logged-in buyer's orders, newest first",
    responses=error_responses(401, 422),
)
def my_orders(
    user: CurrentUser, pool: Pool,
    status: Annotated[StatusFilter | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OrderResponse]:
    with transaction(pool) as conn:
        found = orders.list_orders_for_buyer(conn, user.id, status=status, limit=limit,
                                             offset=offset)
    return [OrderResponse.of(o) for o in found]


@router.get(
    "/shops/{shop_id}/orders", response_model=list[OrderResponse],
    summary="A shop's orders, newest first (owner or admin)",
    responses=error_responses(401, 403, 404, 422),
)
def shop_orders(
    shop_id: UUID, user: SellerOrAdmin, pool: Pool,
    status: Annotated[StatusFilter | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OrderResponse]:
    with transaction(pool) as conn:
        ownership.assert_can_manage_shop(conn, user, shop_id)
        with tenancy.seller_scope(conn, user):  # row-level security: the second wall
            found = orders.list_orders_for_shop(conn, shop_id, status=status, limit=limit,
                                                offset=offset)
    return [OrderResponse.of(o) for o in found]


@router.post(
    "/orders/{order_id}/cancel", response_model=OrderResponse,
    summary="Cancel an unpaid order (its buyer, or an admin): the stock is released",
    description="Only pending_payment orders; a paid order is refunded instead "
                "(409 INVALID_ORDER_STATE).",
    responses=error_responses(401, 403, 404, 409, 422),
)
def cancel_order(order_id: UUID, user: CurrentUser, pool: Pool) -> OrderResponse:
    with transaction(pool) as conn:
        _buyer_order(conn, user, order_id)
        cancelled = orders.cancel_order(conn, order_id)
        if user.role != "buyer":
            audit.record(conn, user, "order.cancel", "order", order_id)
    return OrderResponse.of(cancelled)


@router.post(
    "/orders/{order_id}/pickup", response_model=OrderResponse,
    summary="The buyer collected a pickup order (seller or admin): completed",
    responses=error_responses(401, 403, 404, 409, 422),
)
def picked_up(order_id: UUID, user: CurrentUser, pool: Pool) -> OrderResponse:
    return _seller_step(pool, user, order_id, orders.mark_picked_up, "order.pickup")


@router.post(
    "/orders/{order_id}/ready-for-pickup", response_model=OrderResponse,
    summary="The goods are packed (seller or admin): the buyer is notified, once",
    description="A paid pickup order; 409 INVALID_FULFILMENT for a delivery order, "
                "INVALID_ORDER_STATE before payment or after pickup.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def ready_for_pickup(order_id: UUID, user: CurrentUser, pool: Pool) -> OrderResponse:
    from marketplace_core.orders.notifications import mark_ready_for_pickup

    return _seller_step(pool, user, order_id, mark_ready_for_pickup, "order.ready_for_pickup")


@router.post(
    "/orders/{order_id}/delivery-code", response_model=DeliveryCodeResponse,
    summary="Issue a new delivery code for a paid delivery order (its buyer)",
    description="The previous code stops working and the wrong-attempt counter restarts.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def issue_delivery_code(order_id: UUID, user: CurrentUser, pool: Pool) -> DeliveryCodeResponse:
    with transaction(pool) as conn:
        order = _visible_order(conn, user, order_id)
        if order.buyer_id != user.id:
            raise ForbiddenError(ErrorCode.FORBIDDEN, "only the buyer gets the delivery code")
        issued = orders.issue_delivery_code(conn, order_id)
    assert issued.delivery_code is not None
    return DeliveryCodeResponse(order_id=order_id, delivery_code=issued.delivery_code)


@router.post(
    "/orders/{order_id}/confirm-delivery", response_model=OrderResponse,
    summary="Confirm a delivery with the buyer's code (seller/courier or admin): completed",
    description="A wrong code is 422 INVALID_DELIVERY_CODE (details.attempts_left); after 5 "
                "wrong codes 409 DELIVERY_CODE_LOCKED until the buyer issues a new code.",
    responses=error_responses(401, 403, 404, 409, 422),
)
def confirm_delivery(
    order_id: UUID, body: DeliveryConfirmRequest, user: CurrentUser, pool: Pool
) -> OrderResponse:
    with transaction(pool) as conn:
        _seller_order(conn, user, order_id)
        check = orders.check_delivery_code(conn, order_id, body.code)
        outcome = "order.delivery_confirmed" if check.error is None else (
            "order.delivery_code_rejected")
        audit.record(conn, user, outcome, "order", order_id,
                     None if check.error is None else {"error": check.error.code})
    # the wrong attempt is committed above, then reported
    if check.error is not None:
        raise check.error
    return OrderResponse.of(check.order)


# --- pickup slots -----------------------------------------------------------------------


@router.get(
    "/shops/{shop_id}/pickup-slots", response_model=list[PickupSlotResponse],
    summary="The shop's pickup slots that are not over yet (public)",
    responses=error_responses(404, 422),
)
def list_pickup_slots(
    shop_id: UUID, pool: Pool,
    until: Annotated[AwareDatetime | None, Query(description="Only slots starting before")] = None,
) -> list[PickupSlotResponse]:
    with transaction(pool) as conn:
        if catalog.get_shop(conn, shop_id) is None:
            raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {shop_id} does not exist")
        slots = pickup.list_slots(conn, shop_id, now=datetime.now(UTC), until=until)
    return [PickupSlotResponse.of(s) for s in slots]


@router.post(
    "/shops/{shop_id}/pickup-slots", status_code=201, response_model=PickupSlotResponse,
    summary="Open a pickup slot (owner or admin)",
    description="A window of at most 24 h that is not over yet, with a capacity of "
                "1-10000 orders. 422 INVALID_SLOT otherwise (also for the same window twice).",
    responses=error_responses(401, 403, 404, 422),
)
def create_pickup_slot(
    shop_id: UUID, body: PickupSlotCreate, user: SellerOrAdmin, pool: Pool
) -> PickupSlotResponse:
    with transaction(pool) as conn:
        ownership.assert_can_manage_shop(conn, user, shop_id)
        slot = pickup.create_slot(conn, shop_id, starts_at=body.starts_at,
                                  ends_at=body.ends_at, capacity=body.capacity)
        audit.record(conn, user, "pickup_slot.create", "pickup_slot", slot.id, {
            "shop_id": shop_id, "starts_at": slot.starts_at, "ends_at": slot.ends_at,
            "capacity": slot.capacity})
    return PickupSlotResponse.of(slot)
