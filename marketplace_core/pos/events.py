"""`core.pos_receipts`: every till event the core applied, with its money effect.

`emit_receipt_applied` is called by the ingest (`pos.ingest._apply_till`) in the savepoint
that applied the event, after the receipt, its lines and the void mark were written: the
record is read back from the database, so it is exactly what commits. Duplicates and
refused events never get here. Key = device_id (the terminal's row is locked for the
whole apply, so one terminal's receipts are published in the order they were applied).

Money (KGS, exact Decimal):
  gross_amount     sum(qty * unit_price) of the receipt's lines (0.00 without lines)
  discount_amount  the receipt's discount (0.00 when none)
  net_amount       the signed effect on the shop's net till revenue:
                     sale      gross - discount
                     refund    -(gross - discount)
                     discount  -discount_amount
                     void      -(voided gross - voided discount) for a voided sale,
                               +(voided gross - voided discount) for a voided refund
                     cash_in / cash_out  0.00
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.outbox import emit
from schemas.topics import CORE_POS_RECEIPTS

EVENT_TYPE = "pos_receipt.applied"
ZERO = Decimal("0.00")

_RECEIPT_SQL = """
select id, device_id, receipt_number, shop_id, sale_id, event_type, sequence_number,
       out_of_order, original_receipt_number, total, discount_amount, cash_amount,
       event_time, received_at, source
from pos_receipts where id = %s
"""
_ITEMS_SQL = ("select line_no, variant_id, qty, unit_price from pos_receipt_items"
              " where receipt_id = %s order by line_no")


def _gross(items: list[tuple[Any, ...]]) -> Decimal:
    return sum((Decimal(qty) * price for _, _, qty, price in items), ZERO)


def net_amount(event_type: str, gross: Decimal, discount: Decimal, *,
               voided_event_type: str | None = None, voided_gross: Decimal | None = None,
               voided_discount: Decimal | None = None) -> Decimal:
    """The receipt's signed effect on the shop's net till revenue (see the module doc)."""
    if event_type == "sale":
        return gross - discount
    if event_type == "refund":
        return -(gross - discount)
    if event_type == "discount":
        return -discount
    if event_type == "void":
        assert voided_gross is not None and voided_discount is not None
        reversed_net = voided_gross - voided_discount
        return -reversed_net if voided_event_type == "sale" else reversed_net
    return ZERO  # cash_in, cash_out: drawer movements, not revenue


def emit_receipt_applied(conn: Connection, receipt_id: int) -> UUID:
    """Publish the applied receipt on core.pos_receipts; returns the event id."""
    row = conn.execute(_RECEIPT_SQL, (receipt_id,)).fetchone()
    if row is None:
        raise LookupError(f"POS receipt {receipt_id} does not exist")
    (rid, device_id, receipt_number, shop_id, sale_id, event_type, sequence, out_of_order,
     original, total, discount, cash, event_time, received_at, source) = row
    items = conn.execute(_ITEMS_SQL, (rid,)).fetchall()
    gross = _gross(items)
    discount = discount if discount is not None else ZERO

    voided_type: str | None = None
    voided_gross: Decimal | None = None
    voided_discount: Decimal | None = None
    if event_type == "void":
        target = conn.execute(
            "select id, event_type, discount_amount from pos_receipts"
            " where device_id = %s and receipt_number = %s",
            (device_id, original)).fetchone()
        assert target is not None  # the ingest refuses a void of an unknown receipt
        voided_type = target[1]
        voided_gross = _gross(conn.execute(_ITEMS_SQL, (target[0],)).fetchall())
        voided_discount = target[2] if target[2] is not None else ZERO

    # Other domains' facts come from their own functions, not their tables.
    shop = catalog.get_shop(conn, shop_id)
    assert shop is not None
    variant_ids = sorted({i[1] for i in items})
    products = {v.id: v.product_id
                for v in (catalog.get_variants(conn, variant_ids) if variant_ids else [])}

    record = {
        "receipt_id": rid, "device_id": device_id, "shop_id": shop_id,
        "merchant_id": shop.merchant_id, "receipt_number": receipt_number, "sale_id": sale_id,
        "till_event_type": event_type, "sequence_number": sequence,
        "out_of_order": out_of_order, "original_receipt_number": original,
        "items": [{"line_no": line_no, "variant_id": str(variant_id),
                   "product_id": str(products[variant_id]), "qty": qty,
                   "unit_price": price, "line_amount": Decimal(qty) * price}
                  for line_no, variant_id, qty, price in items],
        "gross_amount": gross, "discount_amount": discount, "total": total,
        "cash_amount": cash, "voided_event_type": voided_type,
        "voided_gross_amount": voided_gross, "voided_discount_amount": voided_discount,
        "net_amount": net_amount(event_type, gross, discount, voided_event_type=voided_type,
                                 voided_gross=voided_gross, voided_discount=voided_discount),
        "event_time": event_time, "received_at": received_at, "source": source,
    }
    return emit(conn, CORE_POS_RECEIPTS, entity_type="pos_receipt", entity_id=device_id,
                event_type=EVENT_TYPE, record=record)
