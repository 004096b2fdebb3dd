"""What an order's life cycle tells people (notify.order, through the outbox, in the
transaction of the change): created (the buyer, and the shop's managers), cancelled (the
buyer), ready for pickup (the buyer, high priority), delivered (the buyer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from infra.settings import get_settings
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import ConflictError, ErrorCode
from marketplace_core.notifications.events import notify

if TYPE_CHECKING:
    from marketplace_core.orders.service import Order


def short_id(order_id: UUID) -> str:
    """How people read an order number (the first 8 hex digits)."""
    return str(order_id)[:8].upper()


def _data(order: Order, at: datetime) -> dict[str, str]:
    return {"orderId": short_id(order.id), "total": f"{order.total:.2f}",
            "ts": at.isoformat(),
            "ctaUrl": f"{get_settings().notify_public_url}/orders/{order.id}"}


def order_created(conn: Connection, order: Order) -> None:
    data = _data(order, order.created_at)
    notify(conn, "order_created", entity_type="order", entity_id=order.id, data=data,
           user_id=order.buyer_id, shop_id=order.shop_id)
    notify(conn, "order_created", entity_type="order", entity_id=order.id,
           data={**data, "ctaUrl": f"{get_settings().notify_public_url}/shops/"
                                   f"{order.shop_id}/orders"},
           shop_id=order.shop_id, to_shop=True)


def status_changed(conn: Connection, order: Order, at: datetime) -> None:
    """After `_set_status`: the transitions a buyer hears about."""
    if order.status == "cancelled":
        event = "order_cancelled"
    elif order.status == "completed" and order.fulfilment == "delivery":
        event = "order_delivered"
    else:
        return
    notify(conn, event, entity_type="order", entity_id=order.id, data=_data(order, at),
           user_id=order.buyer_id, shop_id=order.shop_id)


def pickup_point(conn: Connection, shop_id: UUID) -> str:
    shop = catalog.get_shop(conn, shop_id)
    if shop is None:
        return ""
    return ", ".join(p for p in (shop.market, shop.address) if p) or str(shop.name)


def mark_ready_for_pickup(conn: Connection, order_id: UUID,
                          now: datetime | None = None) -> Order:
    """The seller has the goods packed: tell the buyer (high priority), once. Only a paid
    (or overdue) pickup order; raises ORDER_NOT_FOUND, INVALID_FULFILMENT,
    INVALID_ORDER_STATE. A repeat returns the order and tells nobody again."""
    from marketplace_core.orders.service import _lock, get_order

    at = now or datetime.now(UTC)
    with conn.transaction():
        order = _lock(conn, order_id)
        if order.fulfilment != "pickup":
            raise ConflictError(ErrorCode.INVALID_FULFILMENT, "this is a delivery order")
        if order.status not in ("paid", "pickup_overdue"):
            raise ConflictError(ErrorCode.INVALID_ORDER_STATE,
                                f"order {order_id} is {order.status}; only a paid order is "
                                "ready for pickup")
        done = conn.execute("update orders set ready_for_pickup_at = %s, updated_at = %s"
                            " where id = %s and ready_for_pickup_at is null returning id",
                            (at, at, order_id)).fetchone()
        if done is not None:
            point = pickup_point(conn, order.shop_id)
            slot = (f" ({order.pickup_starts_at:%d.%m %H:%M}–{order.pickup_ends_at:%H:%M} UTC)"
                    if order.pickup_starts_at and order.pickup_ends_at else "")
            notify(conn, "order_ready_for_pickup", entity_type="order", entity_id=order.id,
                   data={**_data(order, at), "pickupPoint": point + slot},
                   user_id=order.buyer_id, shop_id=order.shop_id)
        return get_order(conn, order_id)
