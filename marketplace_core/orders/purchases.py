"""Purchase facts other domains ask about (e.g. social's `verified_purchase`).

POS receipts are not linked to buyer accounts in the data model (a till sale is
anonymous), so a verified purchase comes from online orders only.
"""

from __future__ import annotations

from uuid import UUID

from marketplace_core.db import Connection

# An order counts as a purchase once paid; a refunded order no longer does.
PURCHASED_STATUSES = ("paid", "pickup_overdue", "completed")


def has_paid_order(conn: Connection, buyer_id: UUID, shop_id: UUID) -> bool:
    """True if `buyer_id` has at least one paid (not refunded) order from `shop_id`."""
    row = conn.execute(
        "select exists (select 1 from orders where buyer_id = %s and shop_id = %s"
        " and status = any(%s))", (buyer_id, shop_id, list(PURCHASED_STATUSES))).fetchone()
    return bool(row and row[0])
