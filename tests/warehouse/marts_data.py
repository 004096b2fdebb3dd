"""The events of tests/warehouse/test_warehouse_dbt.py and every mart figure they must give,
worked out by hand (comments show the arithmetic).

Asia/Bishkek is UTC+6: local day D1 = 2024-05-01 runs from 2024-04-30 18:00Z to
2024-05-01 18:00Z. Events sit on both sides of local midnight on purpose.
"""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import Decimal
from typing import Any

from tests.warehouse.lake_fixtures import utc

D = Decimal
D1, D2, D3 = dt.date(2024, 5, 1), dt.date(2024, 5, 2), dt.date(2024, 5, 3)

MERCHANT_A = "00000000-0000-0000-0000-0000000000a0"
MERCHANT_B = "00000000-0000-0000-0000-0000000000b0"
SHOP_A = "00000000-0000-0000-0000-00000000000a"
SHOP_B = "00000000-0000-0000-0000-00000000000b"
DEVICE_A, DEVICE_B = "POS-A", "POS-B"
P_A1, P_A2, P_A3, P_B1 = (f"00000000-0000-0000-0001-00000000000{i}" for i in (1, 2, 3, 4))
V_A1, V_A2, V_A3, V_B1 = (f"00000000-0000-0000-0002-00000000000{i}" for i in (1, 2, 3, 4))
BARCODE_A2 = "4006381333931"
PRODUCT = {V_A1: P_A1, V_A2: P_A2, V_A3: P_A3, V_B1: P_B1}

# When the landing wrote each batch (the incremental marts key off it): more than the
# 24 h lookback apart, so the second build recomputes only what the second batch touched.
INGESTED_1 = utc(2024, 5, 3)
INGESTED_2 = utc(2024, 5, 5)

_ids: dict[str, int] = {}


def uid(kind: str) -> str:
    n = _ids[kind] = _ids.get(kind, 0) + 1
    return f"00000000-0000-0000-{zlib.crc32(kind.encode()) % 10000:04d}-{n:012d}"


def local(d: dt.date, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    """A Bishkek wall-clock time as a UTC instant."""
    return dt.datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=dt.UTC) - dt.timedelta(hours=6)


# --- core.pos_receipts: what the core applied -----------------------------------------------

_receipts: dict[tuple[str, str], dict[str, Any]] = {}


def receipt(
    number: str, kind: str, at: dt.datetime, items: list[tuple[str, int, str]] | None = None,
    *, shop: str = SHOP_A, device: str = DEVICE_A, merchant: str = MERCHANT_A,
    discount: str = "0.00", cash: str | None = None, original: str | None = None,
) -> dict[str, Any]:
    """A core.pos_receipts event, its money worked out by the core's rule."""
    lines: list[dict[str, Any]] = [
        {"line_no": n, "variant_id": v, "product_id": PRODUCT[v], "qty": q,
         "unit_price": D(p), "line_amount": q * D(p)}
        for n, (v, q, p) in enumerate(items or [], start=1)]
    gross = sum((ln["line_amount"] for ln in lines), D("0.00"))
    disc = D(discount)
    voided = _receipts[(device, original)] if kind == "void" and original else None
    net: Decimal | None = {
        "sale": gross - disc,
        "refund": -(gross - disc),
        "discount": -disc,
        "cash_in": D("0.00"),
        "cash_out": D("0.00"),
    }.get(kind)
    if voided is not None:
        effect = voided["gross_amount"] - voided["discount_amount"]
        net = -effect if voided["till_event_type"] == "sale" else effect
    event = {
        "event_id": uid("receipt-event"), "event_type": "pos_receipt.applied",
        "occurred_at": at + dt.timedelta(seconds=1), "receipt_id": len(_receipts) + 1,
        "device_id": device, "shop_id": shop, "merchant_id": merchant,
        "receipt_number": number, "sale_id": uid("sale"), "till_event_type": kind,
        "sequence_number": len(_receipts) + 1, "out_of_order": False,
        "original_receipt_number": original, "items": lines, "gross_amount": gross,
        "discount_amount": disc,
        "total": None if kind in ("cash_in", "cash_out") else gross - disc,
        "cash_amount": None if cash is None else D(cash),
        "voided_event_type": voided["till_event_type"] if voided else None,
        "voided_gross_amount": voided["gross_amount"] if voided else None,
        "voided_discount_amount": voided["discount_amount"] if voided else None,
        "net_amount": net, "event_time": at, "received_at": at + dt.timedelta(seconds=1),
        "source": "kafka",
    }
    _receipts[(device, number)] = event
    return event


RECEIPTS_1 = [
    # D1 10:00, 2 x 100.00 + 1 x 33.33 = 233.33, discount 10.00 -> net 223.33
    # discount spread (largest remainder, tyiyn): 1000 * 20000 / 23333 = 857 r 3619,
    # 1000 * 3333 / 23333 = 142 r 19714; 1 tyiyn left -> line 2: 8.57 + 1.43
    receipt("A-1", "sale", local(D1, 10), [(V_A1, 2, "100.00"), (V_A2, 1, "33.33")],
            discount="10.00"),
    receipt("A-2", "sale", local(D1, 23, 59, 59), [(V_A1, 1, "100.00")]),     # last second of D1
    receipt("A-3", "sale", local(D2, 0), [(V_A2, 3, "33.33")], discount="0.99"),  # D2 00:00
    receipt("A-4", "refund", local(D2, 9), [(V_A1, 1, "100.00")], original="A-1"),
    # the void repeats the voided sale's items and discount, as the terminal sends it
    receipt("A-5", "void", local(D2, 9, 30), [(V_A2, 3, "33.33")], discount="0.99",
            original="A-3"),
    receipt("A-6", "discount", local(D2, 10), discount="5.00"),               # standalone
    receipt("A-7", "cash_in", local(D2, 8), cash="500.00"),
    receipt("A-8", "cash_out", local(D2, 20), cash="120.50"),
    receipt("A-9", "sale", local(D2, 11), [(V_A1, 1, "100.00"), (V_A2, 2, "33.33")]),
    receipt("A-10", "refund", local(D2, 12), [(V_A2, 1, "33.33")], original="A-9"),
    receipt("A-11", "void", local(D2, 12, 5), original="A-10"),  # a void sent without items
    receipt("B-1", "sale", local(D1, 12), [(V_B1, 1, "1234567.89")],
            shop=SHOP_B, device=DEVICE_B, merchant=MERCHANT_B),
]
RECEIPTS_2 = [
    # B's terminal was offline: its D1 sale lands days later (second batch)
    receipt("B-2", "sale", local(D1, 13), [(V_B1, 2, "1234567.89")], discount="0.78",
            shop=SHOP_B, device=DEVICE_B, merchant=MERCHANT_B),
    receipt("A-12", "sale", local(D3, 9), [(V_A1, 1, "100.00")]),
]

# --- core.orders, core.payments, core.payouts, core.refunds ---------------------------------


def order_event(order: str, kind: str, at: dt.datetime, items: list[tuple[str, int, str]],
                created: dt.datetime, **stamps: dt.datetime) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [
        {"variant_id": v, "product_id": PRODUCT[v], "sku": f"SKU-{v[-1]}", "qty": q,
         "unit_price": D(p), "line_total": q * D(p)} for v, q, p in items]
    status = {"created": "pending_payment"}.get(kind, kind)
    return {
        "event_id": uid("order-event"), "event_type": f"order.{kind}",
        "occurred_at": at, "order_id": order, "buyer_id": uid("buyer"), "shop_id": SHOP_A,
        "merchant_id": MERCHANT_A, "status": status, "fulfilment": "pickup",
        "items": lines, "total": sum((ln["line_total"] for ln in lines), D("0.00")),
        "currency": "KGS", "reserved_until": at + dt.timedelta(minutes=30),
        "created_at": created, **{f"{k}_at": v for k, v in stamps.items()},
    }


O1, O2, O3, O4 = (f"00000000-0000-0000-0003-00000000000{i}" for i in range(1, 5))
O1_ITEMS = [(V_A1, 1, "100.00"), (V_A2, 3, "33.33")]        # 199.99
O2_ITEMS = [(V_A1, 2, "100.00")]                              # 200.00
O3_ITEMS = [(V_A1, 1, "100.00")]                              # 100.00
O4_ITEMS = [(V_A2, 1, "33.33")]                               # 33.33
O1_CREATED, O1_PAID = local(D1, 15), local(D1, 23, 50)
O2_CREATED, O2_PAID, O2_REFUNDED = local(D1, 23, 58), local(D2, 0, 2), local(D2, 14)
O3_CREATED, O3_EXPIRED = local(D2, 10), local(D2, 10, 30)
O4_CREATED, O4_CANCELLED = local(D2, 10, 5), local(D2, 10, 15)

ORDERS_1 = [
    order_event(O1, "created", O1_CREATED, O1_ITEMS, O1_CREATED),
    order_event(O1, "paid", O1_PAID, O1_ITEMS, O1_CREATED, paid=O1_PAID),
    order_event(O1, "completed", local(D2, 10), O1_ITEMS, O1_CREATED, paid=O1_PAID,
                completed=local(D2, 10)),
    order_event(O2, "created", O2_CREATED, O2_ITEMS, O2_CREATED),
    order_event(O2, "paid", O2_PAID, O2_ITEMS, O2_CREATED, paid=O2_PAID),
    order_event(O2, "refunded", O2_REFUNDED, O2_ITEMS, O2_CREATED, paid=O2_PAID,
                refunded=O2_REFUNDED),
    order_event(O3, "created", O3_CREATED, O3_ITEMS, O3_CREATED),
    order_event(O3, "expired", O3_EXPIRED, O3_ITEMS, O3_CREATED, expired=O3_EXPIRED),
    order_event(O4, "created", O4_CREATED, O4_ITEMS, O4_CREATED),
    order_event(O4, "cancelled", O4_CANCELLED, O4_ITEMS, O4_CREATED,
                cancelled=O4_CANCELLED),
]

PAY1, PAY2, PAY3, PAY4 = (f"00000000-0000-0000-0004-00000000000{i}" for i in range(1, 5))


def payment(pay: str, order: str, kind: str, at: dt.datetime, amount: str,
            fee: str | None = None, rate: str | None = None,
            take: str | None = None) -> dict[str, Any]:
    return {
        "event_id": uid("payment-event"), "event_type": f"payment.{kind}", "occurred_at": at,
        "payment_id": pay, "order_id": order, "buyer_id": uid("buyer"),
        "merchant_id": MERCHANT_A, "shop_id": SHOP_A,
        "status": {"created": "pending"}.get(kind, kind), "amount": D(amount),
        "currency": "KGS", "provider": "simulator", "psp_payment_id": f"psp-{pay[-1]}",
        "acquiring_fee": None if fee is None else D(fee),
        "take_rate": None if rate is None else D(rate),
        "take_rate_amount": None if take is None else D(take),
    }


def payout(pay: str, order: str, at: dt.datetime, gross: str, take: str, fee: str,
           amount: str) -> dict[str, Any]:
    return {
        "event_id": uid("payout-event"), "event_type": "payout.sent", "occurred_at": at,
        "payout_id": uid("payout"), "payment_id": pay, "order_id": order,
        "merchant_id": MERCHANT_A, "shop_id": SHOP_A, "status": "sent",
        "gross_amount": D(gross), "take_rate_amount": D(take), "acquiring_fee": D(fee),
        "amount": D(amount), "currency": "KGS", "destination": "mbank:****1234",
    }


def refund(refund_id: str, pay: str, order: str, kind: str, at: dt.datetime, amount: str,
           take: str, reason: str) -> dict[str, Any]:
    return {
        "event_id": uid("refund-event"), "event_type": f"refund.{kind}", "occurred_at": at,
        "refund_id": refund_id, "payment_id": pay, "order_id": order,
        "merchant_id": MERCHANT_A, "shop_id": SHOP_A, "status": kind, "amount": D(amount),
        "currency": "KGS", "take_rate_amount": D(take), "acquiring_fee": D("4.00"),
        "reason": reason, "requested_by": None,
    }


R1, R2 = "00000000-0000-0000-0005-000000000001", "00000000-0000-0000-0005-000000000002"
PAYMENTS_1 = [
    payment(PAY1, O1, "created", O1_CREATED, "199.99"),
    # 199.99 - fee 4.00 - take 5 % 10.00 = payout 185.99
    payment(PAY1, O1, "succeeded", O1_PAID, "199.99", "4.00", "0.0500", "10.00"),
    payment(PAY2, O2, "created", O2_CREATED, "200.00"),
    # 200.00 - 4.00 - 1 % 2.00 = 194.00
    payment(PAY2, O2, "succeeded", O2_PAID, "200.00", "4.00", "0.0100", "2.00"),
    # O3 had expired when its payment arrived: captured, no payout, refunded at once
    payment(PAY3, O3, "created", O3_CREATED, "100.00"),
    payment(PAY3, O3, "succeeded", local(D2, 10, 40), "100.00", "2.00"),
    payment(PAY4, O4, "created", O4_CREATED, "33.33"),
    payment(PAY4, O4, "failed", local(D2, 10, 10), "33.33"),
]
PAYOUTS_1 = [
    payout(PAY1, O1, O1_PAID, "199.99", "10.00", "4.00", "185.99"),
    payout(PAY2, O2, O2_PAID, "200.00", "2.00", "4.00", "194.00"),
]
REFUNDS_1 = [
    refund(R1, PAY2, O2, "requested", O2_REFUNDED - dt.timedelta(minutes=1), "200.00", "2.00",
           "requested"),
    refund(R1, PAY2, O2, "succeeded", O2_REFUNDED, "200.00", "2.00", "requested"),
    refund(R2, PAY3, O3, "requested", local(D2, 10, 40), "100.00", "0.00", "order_not_payable"),
    refund(R2, PAY3, O3, "succeeded", local(D2, 10, 40), "100.00", "0.00", "order_not_payable"),
]

# --- pos.heartbeats, pos.dead_letter, core.pos_devices --------------------------------------


def heartbeat(heard: dt.datetime, *, device_time: dt.datetime | None = None,
              stock: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "heartbeat_id": uid("heartbeat"), "device_id": DEVICE_A, "shop_id": SHOP_A,
        "status": "active", "firmware_version": "1.4.2", "sequence_number": 0,
        "event_time": device_time or heard, "stock": stock or [], "signature": "ab",
        "_kafka_timestamp": heard,
    }


SNAPSHOT_AT = local(D2, 0, 20)   # = 2024-05-01 18:20Z
HEARTBEATS_1 = [
    heartbeat(local(D1, 9, 0)),                  # first ever: ends no silence
    heartbeat(local(D1, 9, 5)),                  # +5:00 online
    heartbeat(local(D1, 9, 10)),                 # +5:00 online
    heartbeat(local(D1, 9, 30)),                 # 20 min silence: offline spell 1
    # +9:59 online; sent 15 min after the device's own time (from its outbox): late
    heartbeat(local(D1, 9, 39, 59), device_time=local(D1, 9, 24, 59)),
    heartbeat(local(D1, 23, 55), stock=[{"variant_id": V_A1, "qty": 99}]),  # spell 2
    heartbeat(local(D2, 0, 4)),                  # 9 min: 5 min on D1, 4 min on D2
    # 16 min silence: spell on D2. The latest snapshot: by variant id, by barcode, by an
    # unknown sku, and a variant the platform only creates later
    heartbeat(SNAPSHOT_AT, stock=[
        {"variant_id": V_A1, "qty": 5},
        {"barcode": BARCODE_A2, "qty": 7},
        {"sku": "A-UNKNOWN", "qty": 1},
        {"variant_id": V_A3, "qty": 2},
    ]),
]
# a heartbeat heard at D1 09:20 that lands late: fills the 20-minute silence with two
# 10-minute intervals (10 min is not more than 10: online)
HEARTBEATS_2 = [heartbeat(local(D1, 9, 20))]


def dead_letter(device: str | None, reason: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "dead_letter_id": uid("dead-letter"), "reason_code": reason, "message": reason,
        "source": "kafka", "source_topic": "pos.sales", "source_partition": 0,
        "source_offset": 1, "device_id": device, "receipt_number": None,
        "raw_value": b"\x00raw", "detected_at": at,
    }


DEAD_LETTERS_1 = [
    dead_letter(DEVICE_A, "PRICE_MISMATCH", local(D1, 11)),
    dead_letter(DEVICE_A, "PRICE_MISMATCH", local(D1, 11, 1)),
    dead_letter(DEVICE_A, "BAD_SIGNATURE", local(D1, 12)),
    dead_letter(DEVICE_A, "UNKNOWN_VARIANT", local(D2, 1)),
    dead_letter(DEVICE_B, "BAD_SIGNATURE", local(D1, 12)),
    dead_letter(None, "UNDECODABLE", local(D1, 12)),   # no device: in no device's day
]


def device_event(device: str, shop: str, kind: str, at: dt.datetime) -> dict[str, Any]:
    status = {"offline": "pos_offline"}.get(kind, "pos_active")
    return {
        "event_id": uid("device-event"), "event_type": f"pos_device.{kind}", "occurred_at": at,
        "device_id": device, "shop_id": shop, "status": status, "previous_status": None,
        "last_heartbeat_at": at,
    }


DEVICES_1 = [
    device_event(DEVICE_A, SHOP_A, "registered", local(D1, 8)),
    device_event(DEVICE_A, SHOP_A, "offline", local(D1, 9, 21)),
    device_event(DEVICE_A, SHOP_A, "active", local(D1, 9, 30)),
    device_event(DEVICE_B, SHOP_B, "registered", local(D1, 8)),
]

# --- core.variants: the platform's stock history --------------------------------------------


def variant_event(variant: str, at: dt.datetime, stock: int, *,
                  barcode: str | None = None, kind: str = "stock_changed") -> dict[str, Any]:
    return {
        "event_id": uid("variant-event"), "event_type": f"variant.{kind}", "occurred_at": at,
        "variant_id": variant, "product_id": PRODUCT[variant], "shop_id": SHOP_A,
        "sku": f"SKU-{variant[-1]}", "barcode": barcode, "qr_code": None,
        "attributes_json": "{}", "price": D("100.00"), "stock_qty": stock,
        "stock_delta": 0, "reason": "pos_sale", "is_bundle": False, "is_deleted": False,
    }


VARIANTS_1 = [
    variant_event(V_A1, utc(2024, 4, 29), 10, kind="created"),
    variant_event(V_A1, utc(2024, 5, 1, 4, 0, 1), 8),
    variant_event(V_A1, utc(2024, 5, 1, 18, 10), 5),       # before the snapshot: 5
    variant_event(V_A1, utc(2024, 5, 2, 5, 0, 1), 4),      # after it: now 4
    variant_event(V_A2, utc(2024, 4, 29), 20, barcode=BARCODE_A2, kind="created"),
    variant_event(V_A2, utc(2024, 5, 1, 18, 0, 1), 17, barcode=BARCODE_A2),
    variant_event(V_A3, utc(2024, 5, 3), 9, kind="created"),  # created after the snapshot
]

BATCH_1: dict[str, list[dict[str, Any]]] = {
    "core_pos_receipts": RECEIPTS_1, "core_orders": ORDERS_1, "core_payments": PAYMENTS_1,
    "core_payouts": PAYOUTS_1, "core_refunds": REFUNDS_1, "pos_heartbeats": HEARTBEATS_1,
    "pos_dead_letter": DEAD_LETTERS_1, "core_pos_devices": DEVICES_1,
    "core_variants": VARIANTS_1,
}
BATCH_2: dict[str, list[dict[str, Any]]] = {
    "core_pos_receipts": RECEIPTS_2, "pos_heartbeats": HEARTBEATS_2,
}

# --- what the marts must say ------------------------------------------------------------------

SHOP_METRIC_COLUMNS = (
    "pos_gross", "pos_discounts", "pos_refunds", "pos_voids", "pos_net", "pos_cash_in",
    "pos_cash_out", "receipts", "units", "avg_receipt", "online_orders", "online_gross",
    "online_refunds", "online_net", "net",
)
_ZERO_ONLINE = (0, D("0.00"), D("0.00"), D("0.00"))

SHOP_METRIC_1: dict[tuple[str, dt.date], tuple[Any, ...]] = {
    # gross 200 + 33.33 + 100 = 333.33; discount 10.00; net 323.33;
    # 2 receipts, 4 units; average 323.33 / 2 = 161.665 -> 161.67 (half up)
    # online: O1 paid 23:50 on D1: 199.99; total net 323.33 + 199.99 = 523.32
    (SHOP_A, D1): (D("333.33"), D("10.00"), D("0.00"), D("0.00"), D("323.33"), D("0.00"),
                   D("0.00"), 2, 4, D("161.67"), 1, D("199.99"), D("0.00"), D("199.99"),
                   D("523.32")),
    # gross A-3 99.99 + A-9 166.66 = 266.65; discounts A-3 0.99 + A-6 5.00 = 5.99;
    # refunds A-4 100.00 + A-10 33.33 = 133.33; voids A-5 (a sale) 99.00 + A-11 (a refund)
    # -33.33 = 65.67; net 266.65 - 5.99 - 133.33 - 65.67 = 61.66
    # receipts: 2 sales - 1 voided sale = 1; average (99.00 + 166.66 - 99.00) / 1 = 166.66
    # units: sold 3 + 3, refunded 1 + 1, voided 3 (sale) - 1 (refund) -> 6 - 2 - 2 = 2
    # online: O2 paid 00:02 on D2 (200.00) and refunded on D2 (200.00): net 0
    (SHOP_A, D2): (D("266.65"), D("5.99"), D("133.33"), D("65.67"), D("61.66"), D("500.00"),
                   D("120.50"), 1, 2, D("166.66"), 1, D("200.00"), D("200.00"), D("0.00"),
                   D("61.66")),
    (SHOP_B, D1): (D("1234567.89"), D("0.00"), D("0.00"), D("0.00"), D("1234567.89"),
                   D("0.00"), D("0.00"), 1, 1, D("1234567.89"), *_ZERO_ONLINE,
                   D("1234567.89")),
}
SHOP_METRIC_2 = SHOP_METRIC_1 | {
    # + B-2 2 x 1234567.89 = 2469135.78, discount 0.78: gross 3703703.67, net 3703702.89,
    # 2 receipts, 3 units, average 1851851.445 -> 1851851.45
    (SHOP_B, D1): (D("3703703.67"), D("0.78"), D("0.00"), D("0.00"), D("3703702.89"),
                   D("0.00"), D("0.00"), 2, 3, D("1851851.45"), *_ZERO_ONLINE,
                   D("3703702.89")),
    (SHOP_A, D3): (D("100.00"), D("0.00"), D("0.00"), D("0.00"), D("100.00"), D("0.00"),
                   D("0.00"), 1, 1, D("100.00"), *_ZERO_ONLINE, D("100.00")),
}

PRODUCT_METRIC_COLUMNS = (
    "pos_units_sold", "pos_units_refunded", "pos_units_voided", "pos_units", "pos_gross",
    "pos_discounts", "pos_refunds", "pos_voids", "pos_net", "online_units", "online_gross",
    "online_refunds", "online_net", "net",
)
_NO_ONLINE = (0, D("0.00"), D("0.00"), D("0.00"))
PRODUCT_METRIC_1: dict[tuple[str, str, dt.date], tuple[Any, ...]] = {
    # A-1 line 1 (200.00, share 8.57) + A-2 (100.00): 291.43; online O1 1 x 100.00
    (SHOP_A, V_A1, D1): (3, 0, 0, 3, D("300.00"), D("8.57"), D("0.00"), D("0.00"),
                         D("291.43"), 1, D("100.00"), D("0.00"), D("100.00"), D("391.43")),
    # A-1 line 2 (33.33, share 1.43): 31.90; online O1 3 x 33.33 = 99.99
    (SHOP_A, V_A2, D1): (1, 0, 0, 1, D("33.33"), D("1.43"), D("0.00"), D("0.00"),
                         D("31.90"), 3, D("99.99"), D("0.00"), D("99.99"), D("131.89")),
    # A-9 sold 1, A-4 refunded 1: net 0; online O2 paid 2 and refunded 2 the same day
    (SHOP_A, V_A1, D2): (1, 1, 0, 0, D("100.00"), D("0.00"), D("100.00"), D("0.00"),
                         D("0.00"), 0, D("200.00"), D("200.00"), D("0.00"), D("0.00")),
    # sold A-3 3 + A-9 2 = 5 (99.99 + 66.66 = 166.65, discount 0.99); refunded A-10 1
    # (33.33); voided A-5 (sale, 3 units, 99.00) and A-11 (refund, -1 unit, -33.33):
    # net 166.65 - 0.99 - 33.33 - 65.67 = 66.66, units 5 - 1 - 2 = 2
    (SHOP_A, V_A2, D2): (5, 1, 2, 2, D("166.65"), D("0.99"), D("33.33"), D("65.67"),
                         D("66.66"), *_NO_ONLINE, D("66.66")),
    (SHOP_B, V_B1, D1): (1, 0, 0, 1, D("1234567.89"), D("0.00"), D("0.00"), D("0.00"),
                         D("1234567.89"), *_NO_ONLINE, D("1234567.89")),
}
PRODUCT_METRIC_2 = PRODUCT_METRIC_1 | {
    (SHOP_B, V_B1, D1): (3, 0, 0, 3, D("3703703.67"), D("0.78"), D("0.00"), D("0.00"),
                         D("3703702.89"), *_NO_ONLINE, D("3703702.89")),
    (SHOP_A, V_A1, D3): (1, 0, 0, 1, D("100.00"), D("0.00"), D("0.00"), D("0.00"),
                         D("100.00"), *_NO_ONLINE, D("100.00")),
}

FUNNEL_COLUMNS = (
    "created_orders", "created_amount", "paid_orders", "paid_amount", "completed_orders",
    "completed_amount", "cancelled_orders", "cancelled_amount", "expired_orders",
    "expired_amount", "refunded_orders", "refunded_amount",
)
FUNNEL: dict[tuple[str, dt.date], tuple[Any, ...]] = {
    # created O1 199.99 + O2 200.00 (23:58); paid O1
    (SHOP_A, D1): (2, D("399.99"), 1, D("199.99"), 0, D("0.00"), 0, D("0.00"), 0, D("0.00"),
                   0, D("0.00")),
    # created O3 100.00 + O4 33.33; paid O2 (00:02); completed O1; cancelled O4; expired
    # O3; refunded O2
    (SHOP_A, D2): (2, D("133.33"), 1, D("200.00"), 1, D("199.99"), 1, D("33.33"), 1,
                   D("100.00"), 1, D("200.00")),
}

RECONCILIATION_COLUMNS = (
    "payments_captured", "captured_amount", "acquiring_fee", "take_rate_amount", "payouts",
    "payout_amount", "not_payable_payments", "not_payable_amount",
    "not_payable_acquiring_fee", "refunds", "refund_amount", "take_rate_returned",
    "not_payable_refunds", "not_payable_refund_amount",
)
RECONCILIATION: dict[tuple[str, dt.date], tuple[Any, ...]] = {
    (SHOP_A, D1): (1, D("199.99"), D("4.00"), D("10.00"), 1, D("185.99"), 0, D("0.00"),
                   D("0.00"), 0, D("0.00"), D("0.00"), 0, D("0.00")),
    (SHOP_A, D2): (1, D("200.00"), D("4.00"), D("2.00"), 1, D("194.00"), 1, D("100.00"),
                   D("2.00"), 1, D("200.00"), D("2.00"), 1, D("100.00")),
}

DEVICE_HEALTH_COLUMNS = (
    "shop_id", "heartbeats", "first_heartbeat_at", "last_heartbeat_at", "online_minutes",
    "offline_spells", "late_heartbeats", "dead_letters", "dead_letters_by_reason",
    "offline_transitions",
)
DEVICE_HEALTH_1: dict[tuple[str, dt.date], tuple[Any, ...]] = {
    # online: 5 + 5 + 9:59 + 5 (23:55 -> midnight) = 24.983 min -> 24.98
    (DEVICE_A, D1): (SHOP_A, 6, local(D1, 9), local(D1, 23, 55), D("24.98"), 2, 1, 3,
                     {"PRICE_MISMATCH": 2, "BAD_SIGNATURE": 1}, 1),
    # online: midnight -> 00:04 = 4 min; the 16-minute silence before 00:20 is a spell
    (DEVICE_A, D2): (SHOP_A, 2, local(D2, 0, 4), SNAPSHOT_AT, D("4.00"), 1, 0, 1,
                     {"UNKNOWN_VARIANT": 1}, 0),
    # no heartbeat, one refused event: the shop comes from the device's current state
    (DEVICE_B, D1): (SHOP_B, 0, None, None, D("0.00"), 0, 0, 1, {"BAD_SIGNATURE": 1}, 0),
}
DEVICE_HEALTH_2 = DEVICE_HEALTH_1 | {
    # the late 09:20 heartbeat: 5 + 5 + 10 + 10 + 9:59 + 5 = 44.983 -> 44.98, one spell
    (DEVICE_A, D1): (SHOP_A, 7, local(D1, 9), local(D1, 23, 55), D("44.98"), 1, 1, 3,
                     {"PRICE_MISMATCH": 2, "BAD_SIGNATURE": 1}, 1),
}

STOCK_COLUMNS = ("variant_id", "pos_qty", "platform_qty_at_snapshot", "platform_qty",
                 "qty_difference", "status", "is_discrepancy")
STOCK: dict[tuple[str, str], tuple[Any, ...]] = {
    # the till's 5 matches the platform at 18:20Z (5); the platform has 4 now
    (DEVICE_A, V_A1): (V_A1, 5, 5, 4, 0, "match", False),
    # found by barcode: the till counts 7, the platform had 17
    (DEVICE_A, V_A2): (V_A2, 7, 17, 17, -10, "pos_lower", True),
    (DEVICE_A, "sku:A-UNKNOWN"): (None, 1, None, None, None, "unknown_item", True),
    (DEVICE_A, V_A3): (V_A3, 2, None, 9, None, "not_yet_on_platform", True),
}

# product_orders_daily: receipts and online orders holding each product (here one variant
# per product), each once however many lines it held
PRODUCT_ORDERS_COLUMNS = ("receipts", "online_orders", "online_refunded_orders")
PRODUCT_ORDERS_1: dict[tuple[str, str, dt.date], tuple[Any, ...]] = {
    (SHOP_A, P_A1, D1): (2, 1, 0),   # O1 paid
    (SHOP_A, P_A2, D1): (1, 1, 0),   # A-1 (with P_A1: once each); O1 paid
    (SHOP_A, P_A1, D2): (1, 1, 1),   # A-9; O2 paid and refunded the same day
    (SHOP_A, P_A2, D2): (1, 0, 0),   # minus A-3 voided by A-5 (A-11 voids a
                                     # refund: not a receipt)
    (SHOP_B, P_B1, D1): (1, 0, 0),
}
PRODUCT_ORDERS_2 = PRODUCT_ORDERS_1 | {
    (SHOP_B, P_B1, D1): (2, 0, 0),   # + B-2, landed late
    (SHOP_A, P_A1, D3): (1, 0, 0),
}

# shop_insights_daily: three days of history judge nothing (a full 28-day window is
# needed); a day without a row is a zero (B after D1). No behavioural events: no visits.
INSIGHT_COLUMNS = ("value", "baseline", "change_pct", "baseline_days", "active_days",
                   "signal", "_ingested_through")
INSIGHTS_2: dict[tuple[str, str, dt.date], tuple[Any, ...]] = {
    (SHOP_A, "revenue", D1): (D("523.32"), None, None, 0, 0, "", INGESTED_1),
    (SHOP_A, "revenue", D2): (D("61.66"), None, None, 1, 1, "", INGESTED_1),
    (SHOP_A, "revenue", D3): (D("100.00"), None, None, 2, 2, "", INGESTED_2),
    (SHOP_B, "revenue", D1): (D("3703702.89"), None, None, 0, 0, "", INGESTED_2),
    (SHOP_B, "revenue", D2): (D("0.00"), None, None, 1, 1, "", INGESTED_2),
    (SHOP_B, "revenue", D3): (D("0.00"), None, None, 2, 1, "", INGESTED_2),
}
