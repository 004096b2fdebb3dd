"""The POS apply logic (marketplace_core.pos.ingest) against the real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from marketplace_core.catalog import service as catalog
from marketplace_core.orders import eligibility
from marketplace_core.outbox.writer import decode
from marketplace_core.pos import credentials, ingest, status
from marketplace_core.pos import service as pos
from platform_common import sealing
from schemas.topics import CORE_POS_DEVICES, CORE_SHOP_ELIGIBILITY, CORE_VARIANTS
from tests.core.test_orders_support import make_shop
from tests.core.test_pos_ingest_support import (
    counters,
    heartbeat,
    make_device,
    make_variant,
    new_barcode,
    stock_of,
    till_event,
)

NOW = datetime(2030, 6, 1, 10, 0, tzinfo=UTC)
HTTP = ingest.Origin("http", b"{}")

Conn = Any


def _apply(conn: Conn, record: dict[str, Any], token: str, *,
           origin: ingest.Origin = HTTP) -> ingest.Outcome:
    return ingest.apply_till_event(conn, record, token=token, origin=origin, now=NOW)


def _outbox(conn: Conn, topic: Any, entity_id: object) -> list[dict[str, Any]]:
    rows = conn.execute("select payload from outbox where topic = %s and entity_id = %s"
                        " order by id", (topic.name, str(entity_id))).fetchall()
    return [decode(topic, bytes(r[0])) for r in rows]


def _dead_letters(conn: Conn, device_id: str) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in conn.execute(
        "select reason_code, receipt_number from pos_dead_letters where device_id = %s"
        " order by detected_at, id", (device_id,))]


def test_sale_refund_void_move_stock_once_and_emit_variant_events(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    barcode = new_barcode()
    hat = make_variant(conn, shop_id, price="1500.00", stock=10, barcode=barcode)
    scarf = make_variant(conn, shop_id, price="800.50", stock=5)

    sale = till_event(creds, [(hat, 2, "1500.00"), (scarf, 1, "800.50")], sequence_number=1)
    assert _apply(conn, sale, creds.token).status == "applied"
    assert (stock_of(conn, hat), stock_of(conn, scarf)) == (8, 4)

    by_barcode = till_event(creds, [(barcode, 1, "1500.00")], sequence_number=2)
    assert _apply(conn, by_barcode, creds.token).status == "applied"
    assert stock_of(conn, hat) == 7

    refund = till_event(creds, [(hat, 1, "1400.00")], event_type="refund",
                        original_receipt_number=by_barcode["receipt_number"],
                        sequence_number=3)
    assert _apply(conn, refund, creds.token).status == "applied"  # refunds are not price-checked
    assert stock_of(conn, hat) == 8

    void = till_event(creds, [], event_type="void", total=None, sequence_number=4,
                      original_receipt_number=sale["receipt_number"])
    assert _apply(conn, void, creds.token).status == "applied"
    assert (stock_of(conn, hat), stock_of(conn, scarf)) == (10, 5)  # what the sale took

    for record in (discount := till_event(creds, [], event_type="discount",
                                          discount_amount="100.00", sequence_number=5),
                   till_event(creds, [], event_type="cash_in", total=None,
                              cash_amount="5000.00", sequence_number=6)):
        assert _apply(conn, record, creds.token).status == "applied"
    assert (stock_of(conn, hat), stock_of(conn, scarf)) == (10, 5)
    assert discount["total"] == catalog.Decimal("-100.00")  # as the terminal computes it

    reasons = [(e["stock_delta"], e["reason"]) for e in _outbox(conn, CORE_VARIANTS, hat)
               if e["event_type"] == "variant.stock_changed"]
    assert reasons == [(-2, "pos_sale"), (-1, "pos_sale"), (1, "pos_refund"), (2, "pos_void")]
    assert counters(conn, creds.device_id)["applied"] == 6
    voided = conn.execute("select voided_by from pos_receipts where device_id = %s"
                          " and receipt_number = %s",
                          (creds.device_id, sale["receipt_number"])).fetchone()
    assert voided == (void["receipt_number"],)


def test_a_duplicate_receipt_only_counts(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, stock=3)
    sale = till_event(creds, [(hat, 1, "1500.00")])
    assert _apply(conn, sale, creds.token).status == "applied"
    # The price changes afterwards: a replay is still recognised as the same receipt.
    catalog.update_variant(conn, hat, price=catalog.Decimal("1600.00"))
    again = _apply(conn, sale, creds.token)
    assert (again.status, again.code) == ("duplicate", "DUPLICATE_SALE")
    other_content = till_event(creds, [(hat, 2, "1600.00")],
                               receipt_number=sale["receipt_number"])
    assert _apply(conn, other_content, creds.token).status == "duplicate"
    assert stock_of(conn, hat) == 2
    assert counters(conn, creds.device_id) | {} == {
        "applied": 1, "duplicates": 2, "rejected": 0, "heartbeats": 0, "oversold_units": 0}
    assert _dead_letters(conn, creds.device_id) == []


def test_a_sale_beyond_known_stock_is_applied_clamped_and_reported(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, stock=1)
    sale = till_event(creds, [(hat, 3, "1500.00")])
    assert _apply(conn, sale, creds.token).status == "applied"
    assert stock_of(conn, hat) == 0
    assert counters(conn, creds.device_id)["oversold_units"] == 2
    void = till_event(creds, [], event_type="void", total=None,
                      original_receipt_number=sale["receipt_number"])
    assert _apply(conn, void, creds.token).status == "applied"
    assert stock_of(conn, hat) == 1  # puts back what the sale really took


@pytest.mark.parametrize("case, reason, code", [
    ("unknown_variant", "UNKNOWN_VARIANT", "INVALID_ITEM"),
    ("foreign_variant", "UNKNOWN_VARIANT", "INVALID_ITEM"),
    ("unknown_barcode", "UNKNOWN_VARIANT", "INVALID_ITEM"),
    ("zero_qty", "INVALID_QUANTITY", "INVALID_ITEM"),
    ("negative_qty", "INVALID_QUANTITY", "INVALID_ITEM"),
    ("price_mismatch", "PRICE_MISMATCH", "INVALID_ITEM"),
    ("no_items", "NO_ITEMS", "INVALID_ITEM"),
    ("no_ref", "MISSING_ITEM_REF", "INVALID_ITEM"),
    ("total_mismatch", "TOTAL_MISMATCH", "INVALID_POS_EVENT"),
    ("unknown_type", "UNKNOWN_EVENT_TYPE", "INVALID_POS_EVENT"),
    ("void_unknown", "UNKNOWN_ORIGINAL_RECEIPT", "INVALID_POS_EVENT"),
    ("void_without_original", "MISSING_ORIGINAL_RECEIPT", "INVALID_POS_EVENT"),
    ("cash_without_amount", "INVALID_AMOUNT", "INVALID_POS_EVENT"),
    ("bad_signature", "BAD_SIGNATURE", "INVALID_SIGNATURE"),
    ("tampered", "BAD_SIGNATURE", "INVALID_SIGNATURE"),
    ("wrong_token", "INVALID_DEVICE_TOKEN", "INVALID_DEVICE_TOKEN"),
    ("other_shop", "SHOP_MISMATCH", "INVALID_POS_EVENT"),
    ("unknown_device", "UNKNOWN_DEVICE", "DEVICE_NOT_FOUND"),
])
def test_invalid_events_change_nothing_and_are_dead_lettered(
    conn: Conn, case: str, reason: str, code: str,
) -> None:
    _, shop_id = make_shop(conn)
    _, other_shop = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, stock=5)
    foreign = make_variant(conn, other_shop, stock=5)
    token = creds.token
    item = (hat, 1, "1500.00")
    record = {
        "unknown_variant": lambda: till_event(creds, [(uuid4(), 1, "1500.00")]),
        "foreign_variant": lambda: till_event(creds, [(foreign, 1, "1500.00")]),
        "unknown_barcode": lambda: till_event(creds, [(new_barcode(), 1, "1500.00")]),
        "zero_qty": lambda: till_event(creds, [(hat, 0, "1500.00")]),
        "negative_qty": lambda: till_event(creds, [(hat, -2, "1500.00")]),
        "price_mismatch": lambda: till_event(creds, [(hat, 1, "1400.00")]),
        "no_items": lambda: till_event(creds, []),
        "no_ref": lambda: _no_ref(creds),
        "total_mismatch": lambda: till_event(creds, [item], total="1.00"),
        "unknown_type": lambda: till_event(creds, [item], event_type="layaway"),
        "void_unknown": lambda: till_event(creds, [], event_type="void", total=None,
                                           original_receipt_number="R-NOPE"),
        "void_without_original": lambda: till_event(creds, [], event_type="void", total=None),
        "cash_without_amount": lambda: till_event(creds, [], event_type="cash_out", total=None),
        "bad_signature": lambda: till_event(creds, [item], secret="not-the-secret"),
        "tampered": lambda: {**till_event(creds, [item]), "total": catalog.Decimal("1.00")},
        "wrong_token": lambda: till_event(creds, [item]),
        "other_shop": lambda: till_event(creds, [item], shop_id=other_shop),
        "unknown_device": lambda: {**till_event(creds, [item]), "device_id": "POS-99999999999"},
    }[case]()
    if case == "wrong_token":
        token = "pos_wrong"
    outcome = _apply(conn, record, token)
    assert (outcome.status, outcome.reason, outcome.code) == ("rejected", reason, code)
    assert outcome.dead_letter_id is not None
    assert stock_of(conn, hat) == 5 and stock_of(conn, foreign) == 5
    assert conn.execute("select count(*) from pos_receipts where device_id = %s",
                        (creds.device_id,)).fetchone() == (0,)
    if case != "unknown_device":
        assert _dead_letters(conn, creds.device_id) == [(reason, record["receipt_number"])]
        assert counters(conn, creds.device_id)["rejected"] == 1


def _no_ref(creds: credentials.DeviceCredentials) -> dict[str, Any]:
    record = till_event(creds, [(uuid4(), 1, "1500.00")])
    record["items"][0]["variant_id"] = None
    from schemas.pos.signing import sign
    record["signature"] = sign(record, creds.secret)
    return record


def test_retired_device_and_rotated_credentials(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, stock=5)
    rotated = credentials.issue_credentials(conn, creds.device_id)
    old = _apply(conn, till_event(creds, [(hat, 1, "1500.00")]), creds.token)
    assert old.reason == "INVALID_DEVICE_TOKEN"
    signed_with_old_secret = till_event(creds, [(hat, 1, "1500.00")])
    assert _apply(conn, signed_with_old_secret, rotated.token).reason == "BAD_SIGNATURE"
    assert _apply(conn, till_event(rotated, [(hat, 1, "1500.00")]),
                  rotated.token).status == "applied"
    conn.execute("update pos_devices set status = 'retired' where id = %s", (creds.device_id,))
    assert _apply(conn, till_event(rotated, [(hat, 1, "1500.00")]),
                  rotated.token).reason == "DEVICE_RETIRED"
    assert stock_of(conn, hat) == 4


def test_kafka_replay_of_a_refused_message_is_dead_lettered_once(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    record = till_event(creds, [(uuid4(), 1, "1500.00")])
    origin = ingest.Origin("kafka", b"raw", topic="pos.sales", partition=2, offset=41)
    first = _apply(conn, record, creds.token, origin=origin)
    again = _apply(conn, record, creds.token, origin=origin)
    assert first.dead_letter_id is not None and again.dead_letter_id is None
    assert counters(conn, creds.device_id)["rejected"] == 1


def test_out_of_order_events_are_applied_and_flagged(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, stock=10)
    for seq in (5, 3, 6):
        assert _apply(conn, till_event(creds, [(hat, 1, "1500.00")], sequence_number=seq),
                      creds.token).status == "applied"
    flags = conn.execute("select sequence_number, out_of_order from pos_receipts"
                         " where device_id = %s order by id", (creds.device_id,)).fetchall()
    assert flags == [(5, False), (3, True), (6, False)]
    assert pos.device_overview(conn, creds.device_id).last_sequence_number == 6  # type: ignore[union-attr]
    assert stock_of(conn, hat) == 7


def test_heartbeats_drive_connectivity_and_eligibility_with_one_event_each(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    record = heartbeat(creds)
    got = ingest.apply_heartbeat(conn, record, token=creds.token, origin=HTTP, now=NOW)
    assert got.status == "applied"
    device = pos.device_overview(conn, creds.device_id)
    assert device is not None
    assert (device.connectivity, device.last_heartbeat_at, device.firmware_version) == (
        "pos_active", NOW, "3.1.0")
    # An older heartbeat read late never moves the stamp backwards.
    ingest.apply_heartbeat(conn, heartbeat(creds), token=creds.token, origin=HTTP,
                           now=NOW + timedelta(minutes=1), heard_at=NOW - timedelta(minutes=5))
    assert pos.get_device(conn, creds.device_id).last_heartbeat_at == NOW  # type: ignore[union-attr]

    # (The sweep is global: the session database holds other tests' terminals too.)
    status.sweep_offline_devices(conn, NOW + timedelta(minutes=10))  # at the limit: fresh
    assert _connectivity(conn, creds.device_id) == "pos_active"
    assert status.sweep_offline_devices(conn, NOW + timedelta(minutes=11)) >= 1
    assert _connectivity(conn, creds.device_id) == "pos_offline"
    assert eligibility.stored_mode(conn, shop_id) == "manual_contact"
    status.sweep_offline_devices(conn, NOW + timedelta(minutes=12))  # no second event
    later = NOW + timedelta(minutes=13)
    ingest.apply_heartbeat(conn, heartbeat(creds), token=creds.token, origin=HTTP, now=later)

    transitions = [(e["event_type"], e["status"], e["previous_status"])
                   for e in _outbox(conn, CORE_POS_DEVICES, creds.device_id)]
    assert transitions == [("pos_device.registered", "pos_offline", None),
                           ("pos_device.active", "pos_active", "pos_offline"),
                           ("pos_device.offline", "pos_offline", "pos_active"),
                           ("pos_device.active", "pos_active", "pos_offline")]
    modes = [e["mode"] for e in _outbox(conn, CORE_SHOP_ELIGIBILITY, shop_id)]
    assert modes == ["online_purchase", "manual_contact", "online_purchase"]
    assert counters(conn, creds.device_id)["heartbeats"] == 3

    forged = {**heartbeat(creds), "firmware_version": "evil"}
    refused = ingest.apply_heartbeat(conn, forged, token=creds.token, origin=HTTP, now=later)
    assert (refused.status, refused.reason) == ("rejected", "BAD_SIGNATURE")


def _connectivity(conn: Conn, device_id: str) -> str:
    device = pos.device_overview(conn, device_id)
    assert device is not None
    return device.connectivity


def test_next_device_id_follows_the_highest_number(conn: Conn) -> None:
    _, shop_id = make_shop(conn)
    issued = credentials.register_with_credentials(conn, shop_id)
    number = int(issued.device_id.removeprefix("POS-"))
    again = credentials.register_with_credentials(conn, shop_id)
    assert again.device_id == pos.device_id_for(number + 1)
    assert issued.token.startswith("pos_") and len(issued.secret) == 64
    stored = conn.execute("select token_sha256, secret from pos_devices where id = %s",
                          (issued.device_id,)).fetchone()
    # the token as its digest, the secret sealed (platform_common.sealing)
    assert stored[0] == credentials.token_digest(issued.token)
    assert sealing.is_sealed(stored[1]) and issued.secret not in stored[1]
    assert sealing.unseal(stored[1]) == issued.secret


def test_a_refund_must_name_a_sale_of_the_device_and_return_at_most_what_it_sold(
        conn: Conn) -> None:
    """A signed refund naming a receipt the device never sold used to raise stock by any
    quantity; now a refund names a standing sale of its device and returns at most what that
    sale sold (minus its earlier refunds), and nothing moves when it is refused."""
    _, shop_id = make_shop(conn)
    creds = make_device(conn, shop_id)
    other = make_device(conn, shop_id)
    hat = make_variant(conn, shop_id, price="1500.00", stock=10)
    scarf = make_variant(conn, shop_id, price="800.50", stock=10)
    sale = till_event(creds, [(hat, 2, "1500.00")], sequence_number=1)
    assert _apply(conn, sale, creds.token).status == "applied"
    others_sale = till_event(other, [(scarf, 1, "800.50")], sequence_number=1)
    assert _apply(conn, others_sale, other.token).status == "applied"
    assert (stock_of(conn, hat), stock_of(conn, scarf)) == (8, 9)

    def refund(items: list[Any], original: str | None, seq: int) -> dict[str, Any]:
        return till_event(creds, items, event_type="refund", original_receipt_number=original,
                          sequence_number=seq)

    refused = [
        (refund([(hat, 1, "1500.00")], None, 2), "MISSING_ORIGINAL_RECEIPT"),
        (refund([(hat, 500, "1500.00")], "NEVER-SOLD", 3), "UNKNOWN_ORIGINAL_RECEIPT"),
        # another terminal's sale is not this terminal's to refund
        (refund([(scarf, 1, "800.50")], others_sale["receipt_number"], 4),
         "UNKNOWN_ORIGINAL_RECEIPT"),
        (refund([(hat, 500, "1500.00")], sale["receipt_number"], 5), "REFUND_EXCEEDS_SALE"),
        (refund([(scarf, 1, "800.50")], sale["receipt_number"], 6), "REFUND_EXCEEDS_SALE"),
    ]
    for record, reason in refused:
        outcome = _apply(conn, record, creds.token)
        assert (outcome.status, outcome.reason) == ("rejected", reason), record
    assert (stock_of(conn, hat), stock_of(conn, scarf)) == (8, 9)  # nothing moved

    first = refund([(hat, 1, "1500.00")], sale["receipt_number"], 7)
    assert _apply(conn, first, creds.token).status == "applied"
    second = refund([(hat, 2, "1500.00")], sale["receipt_number"], 8)
    assert _apply(conn, second, creds.token).reason == "REFUND_EXCEEDS_SALE"  # 1 unit left
    # a partly refunded sale cannot be voided (it would put back the refunded unit again)
    void = till_event(creds, [], event_type="void", total=None, sequence_number=9,
                      original_receipt_number=sale["receipt_number"])
    assert _apply(conn, void, creds.token).reason == "NOT_VOIDABLE"
    last = refund([(hat, 1, "1500.00")], sale["receipt_number"], 10)
    assert _apply(conn, last, creds.token).status == "applied"
    assert stock_of(conn, hat) == 10  # exactly what the sale took, back once
    again = refund([(hat, 1, "1500.00")], sale["receipt_number"], 11)
    assert _apply(conn, again, creds.token).reason == "REFUND_EXCEEDS_SALE"
    # a refund of a refund is refused too
    of_refund = refund([(hat, 1, "1500.00")], first["receipt_number"], 12)
    assert _apply(conn, of_refund, creds.token).reason == "NOT_REFUNDABLE"
    assert stock_of(conn, hat) == 10
