"""core.pos_receipts: every applied till event, once, with its money effect (pos.events).

Against the real Postgres: each test applies till events through `ingest.apply_till_event`
(the function both the Kafka consumer and POST /pos/sales call) and decodes what the
outbox stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from marketplace_core.outbox.writer import decode
from marketplace_core.pos import events, ingest
from schemas.pos.signing import sign
from schemas.topics import CORE_POS_RECEIPTS
from tests.core.auth_helpers import make_seller_with_shop
from tests.core.test_orders_support import make_shop
from tests.core.test_pos_ingest_support import make_device, make_variant, till_event

NOW = datetime(2030, 6, 1, 10, 0, tzinfo=UTC)
HTTP = ingest.Origin("http", b"{}")
KAFKA = ingest.Origin("kafka", b"raw", topic="pos.sales", partition=0, offset=7)

Conn = Any


def _apply(conn: Conn, record: dict[str, Any], token: str, *,
           origin: ingest.Origin = HTTP) -> ingest.Outcome:
    return ingest.apply_till_event(conn, record, token=token, origin=origin, now=NOW)


def _receipt_events(conn: Conn, device_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "select entity_type, event_type, payload from outbox"
        " where topic = %s and entity_id = %s order by id",
        (CORE_POS_RECEIPTS.name, device_id)).fetchall()
    assert all((r[0], r[1]) == ("pos_receipt", "pos_receipt.applied") for r in rows)
    return [decode(CORE_POS_RECEIPTS, bytes(r[2])) for r in rows]


def _applied_once(conn: Conn, record: dict[str, Any], token: str, *,
                  origin: ingest.Origin = HTTP) -> dict[str, Any]:
    """Apply the record; it must write exactly one core.pos_receipts row: return it."""
    before = len(_receipt_events(conn, record["device_id"]))
    assert _apply(conn, record, token, origin=origin).status == "applied"
    after = _receipt_events(conn, record["device_id"])
    assert len(after) == before + 1
    event = after[-1]
    assert event["receipt_number"] == record["receipt_number"]
    return event


def _money(event: dict[str, Any]) -> tuple[Any, ...]:
    return (event["gross_amount"], event["discount_amount"], event["net_amount"],
            event["voided_event_type"], event["voided_gross_amount"],
            event["voided_discount_amount"])


def _receipt_id(conn: Conn, device_id: str, receipt_number: str) -> int:
    row = conn.execute("select id from pos_receipts where device_id = %s"
                       " and receipt_number = %s", (device_id, receipt_number)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_sale_carries_its_lines_merchant_products_and_amounts(conn: Conn) -> None:
    merchant_id, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, price="1500.00", stock=10)
    scarf = make_variant(conn, shop_id, price="800.50", stock=5)
    sale = till_event(creds, [(hat, 2, "1500.00"), (scarf, 1, "800.50")],
                      discount_amount="100.00", sequence_number=1)

    event = _applied_once(conn, sale, creds.token)

    assert _money(event) == (Decimal("3800.50"), Decimal("100.00"), Decimal("3700.50"),
                             None, None, None)
    assert event["total"] == Decimal("3700.50") and event["cash_amount"] is None
    assert event["event_type"] == "pos_receipt.applied"
    assert event["till_event_type"] == "sale"
    assert event["receipt_id"] == _receipt_id(conn, creds.device_id, sale["receipt_number"])
    assert (event["device_id"], event["shop_id"], event["merchant_id"]) == (
        creds.device_id, shop_id, merchant_id)
    assert event["sale_id"] == UUID(sale["sale_id"])
    assert (event["sequence_number"], event["out_of_order"]) == (1, False)
    assert event["original_receipt_number"] is None
    assert event["event_time"] == sale["event_time"]
    assert event["received_at"] == NOW
    assert event["source"] == "http"
    products = {v: catalog.get_variant(conn, v).product_id  # type: ignore[union-attr]
                for v in (hat, scarf)}
    assert event["items"] == [
        {"line_no": 1, "variant_id": hat, "product_id": products[hat], "qty": 2,
         "unit_price": Decimal("1500.00"), "line_amount": Decimal("3000.00")},
        {"line_no": 2, "variant_id": scarf, "product_id": products[scarf],
         "qty": 1, "unit_price": Decimal("800.50"), "line_amount": Decimal("800.50")},
    ]


def test_refund_discount_voids_and_cash_events_each_emit_their_net(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, price="1500.00", stock=10)
    sale = till_event(creds, [(hat, 2, "1500.00")], discount_amount="250.00",
                      sequence_number=1)
    assert _money(_applied_once(conn, sale, creds.token)) == (
        Decimal("3000.00"), Decimal("250.00"), Decimal("2750.00"), None, None, None)

    refund = till_event(creds, [(hat, 1, "1400.00")], event_type="refund",
                        original_receipt_number=sale["receipt_number"], sequence_number=2)
    event = _applied_once(conn, refund, creds.token)
    assert _money(event) == (Decimal("1400.00"), Decimal("0.00"), Decimal("-1400.00"),
                             None, None, None)
    assert event["original_receipt_number"] == sale["receipt_number"]

    discount = till_event(creds, [], event_type="discount", discount_amount="100.00",
                          sequence_number=3)
    event = _applied_once(conn, discount, creds.token)
    assert _money(event) == (Decimal("0.00"), Decimal("100.00"), Decimal("-100.00"),
                             None, None, None)
    assert event["total"] == Decimal("-100.00") and event["items"] == []

    # The refund first: a sale with a standing refund cannot be voided.
    void_refund = till_event(creds, [], event_type="void", total=None, sequence_number=4,
                             original_receipt_number=refund["receipt_number"])
    assert _money(_applied_once(conn, void_refund, creds.token)) == (
        Decimal("0.00"), Decimal("0.00"), Decimal("1400.00"),
        "refund", Decimal("1400.00"), Decimal("0.00"))

    void_sale = till_event(creds, [], event_type="void", total=None, sequence_number=5,
                           original_receipt_number=sale["receipt_number"])
    event = _applied_once(conn, void_sale, creds.token)
    assert _money(event) == (Decimal("0.00"), Decimal("0.00"), Decimal("-2750.00"),
                             "sale", Decimal("3000.00"), Decimal("250.00"))
    assert event["total"] is None

    for event_type in ("cash_in", "cash_out"):
        cash = till_event(creds, [], event_type=event_type, total=None,
                          cash_amount="5000.00", sequence_number=6)
        event = _applied_once(conn, cash, creds.token)
        assert _money(event) == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"),
                                 None, None, None)
        assert (event["till_event_type"], event["cash_amount"]) == (
            event_type, Decimal("5000.00"))
    # The second cash event came below the highest sequence number applied.
    assert event["out_of_order"] is True

    nets = [e["net_amount"] for e in _receipt_events(conn, creds.device_id)]
    # sale 2750.00, refund -1400.00, discount -100.00, void of the refund +1400.00, void
    # of the sale -2750.00, cash 0.00 twice: what is left is the standalone discount.
    assert nets == [Decimal(n) for n in ("2750.00", "-1400.00", "-100.00", "1400.00",
                                         "-2750.00", "0.00", "0.00")]
    assert sum(nets, Decimal("0.00")) == Decimal("-100.00")


def test_the_kafka_path_emits_with_its_source(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, price="1500.00", stock=10)
    event = _applied_once(conn, till_event(creds, [(hat, 1, "1500.00")]), creds.token,
                          origin=KAFKA)
    assert (event["source"], event["net_amount"]) == ("kafka", Decimal("1500.00"))


def test_duplicates_and_refused_events_emit_nothing(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, price="1500.00", stock=10)
    sale = till_event(creds, [(hat, 1, "1500.00")])
    _applied_once(conn, sale, creds.token)

    assert _apply(conn, sale, creds.token).status == "duplicate"
    assert _apply(conn, sale, creds.token, origin=KAFKA).status == "duplicate"
    forged = till_event(creds, [(hat, 1, "1500.00")], secret="not-the-secret")
    refused = _apply(conn, forged, creds.token)
    assert (refused.status, refused.reason) == ("rejected", "BAD_SIGNATURE")
    wrong_price = till_event(creds, [(hat, 1, "1.00")])
    assert _apply(conn, wrong_price, creds.token).reason == "PRICE_MISMATCH"
    void_unknown = till_event(creds, [], event_type="void", total=None,
                              original_receipt_number="R-NOPE")
    assert _apply(conn, void_unknown, creds.token).reason == "UNKNOWN_ORIGINAL_RECEIPT"

    # A receipt whose lines add up beyond decimal(12,2) could not be published: refused.
    dear = make_variant(conn, shop_id, price="9999999999.99", stock=10)
    too_big = till_event(creds, [(dear, 2, "9999999999.99")], total=None)
    assert _apply(conn, too_big, creds.token).reason == "INVALID_AMOUNT"

    assert [e["receipt_number"] for e in _receipt_events(conn, creds.device_id)] == [
        sale["receipt_number"]]


def test_net_amount_rules() -> None:
    d = Decimal
    assert events.net_amount("sale", d("10.00"), d("1.50")) == d("8.50")
    assert events.net_amount("refund", d("10.00"), d("1.50")) == d("-8.50")
    assert events.net_amount("discount", d("0.00"), d("3.00")) == d("-3.00")
    assert events.net_amount("void", d("0.00"), d("0.00"), voided_event_type="sale",
                             voided_gross=d("10.00"), voided_discount=d("1.00")) == d("-9.00")
    assert events.net_amount("void", d("0.00"), d("0.00"), voided_event_type="refund",
                             voided_gross=d("10.00"), voided_discount=d("1.00")) == d("9.00")
    for cash in ("cash_in", "cash_out"):
        assert events.net_amount(cash, d("0.00"), d("0.00")) == d("0.00")


def test_post_pos_sales_emits_too(core_api: Any) -> None:
    seller, merchant_id, shop_id = make_seller_with_shop(core_api)
    registered = core_api.post(f"/shops/{shop_id}/pos/devices", headers=seller.headers,
                               json={"firmware_version": "3.1.0"})
    assert registered.status_code == 201, registered.text
    creds = registered.json()
    with transaction(core_api.app.state.pool) as conn:
        variant = make_variant(conn, shop_id, price="1500.00", stock=10)

    from marketplace_core.api.schemas.pos import TillEventIn
    record = {"device_id": creds["device_id"], "shop_id": str(shop_id),
              "receipt_number": "H-1", "event_type": "sale", "sequence_number": 1,
              "event_time": "2030-06-01T10:00:00Z", "total": "3000.00",
              "items": [{"variant_id": str(variant), "qty": 2, "unit_price": "1500.00"}]}
    record["signature"] = sign(TillEventIn.model_validate(record).record(), creds["secret"])
    headers = {"Authorization": f"Bearer {creds['token']}"}
    answer = core_api.post("/pos/sales", headers=headers, json=record)
    assert answer.status_code == 200, answer.text
    assert core_api.post("/pos/sales", headers=headers, json=record).status_code == 409

    with transaction(core_api.app.state.pool) as conn:
        [event] = _receipt_events(conn, creds["device_id"])
    assert (event["source"], event["receipt_number"], event["till_event_type"]) == (
        "http", "H-1", "sale")
    assert (event["merchant_id"], event["shop_id"]) == (merchant_id, shop_id)
    assert (event["gross_amount"], event["net_amount"]) == (
        Decimal("3000.00"), Decimal("3000.00"))
    assert event["event_time"] == datetime(2030, 6, 1, 10, 0, tzinfo=UTC)
