"""Applying one POS event to the core, the same way for Kafka and HTTP.

`apply_till_event` (sale, refund, void, discount, cash_in, cash_out) and `apply_heartbeat`
each take a record shaped like the Avro schemas in `schemas/pos/` (as the Avro decoder
gives it, or as the API parses it), check it, and apply it inside the caller's
transaction, in a savepoint: a refused event changes nothing but its dead letter and the
device's counter, so a consumer can apply many events in one transaction.

Checks, in order (the first failure is the reason; see REASONS for the reason codes and
the API code each maps to):

1. the device exists (UNKNOWN_DEVICE), the presented token is its token, compared in
   constant time (INVALID_DEVICE_TOKEN), it is not retired (DEVICE_RETIRED), the HMAC
   signature over the record's canonical bytes verifies with its secret (BAD_SIGNATURE),
   and the record names the device's shop (SHOP_MISMATCH);
2. the event is new: (device_id, receipt_number) is the dedupe key. A receipt already
   applied is a duplicate: the device's DUPLICATE_SALE counter goes up and nothing else
   changes. This is checked before the items, so a replay stays a duplicate even after the
   price changed;
3. the event is well formed: known event type, receipt number, items resolved by
   variant_id or barcode within the device's shop, qty >= 1, amounts >= 0 and within
   numeric(12,2) (the items' sum too, as published on core.pos_receipts), totals equal
   sum(qty * unit_price) - discount_amount (sale, refund, void, discount: a standalone
   discount's total is negative; cash events carry cash_amount instead);
4. "the online price and the till price are the same" (spec §3.9): a sale line whose
   unit_price differs from the variant's current price is refused (PRICE_MISMATCH →
   INVALID_ITEM). The till then holds a stale price list; the dead letter keeps the event
   whole so it can be replayed once the prices agree. Refunds and voids are not
   price-checked: they reverse a sale made at the price of its day.

Stock: sale -qty, refund +qty, void puts back exactly what the voided receipt moved (as
recorded in pos_receipt_moves), discount and cash events move nothing (recorded only). A
bundle's units move its components. A till sale is a real sale even when the platform
believes the goods are gone: stock is clamped at 0 and the units short are recorded
(`pos_receipt_moves.shortage`, counter `oversold_units`), never refused.

Every applied event (Kafka or HTTP) is published on `core.pos_receipts` through the outbox,
in the same savepoint, with its gross / discount / net amounts (`pos.events`); duplicates
and refused events publish nothing.

Order: `sequence_number` is the device's counter. An event below the highest applied one
is still applied (a terminal that was offline uploads its backlog over HTTP while Kafka
delivers newer events; refusing would lose real sales) and flagged `out_of_order`. Only a
void needs its sale first: a void of a receipt not applied (yet) is refused
(UNKNOWN_ORIGINAL_RECEIPT) and can be replayed from its dead letter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic_core import PydanticCustomError

from marketplace_core.catalog import stock as catalog_stock
from marketplace_core.db import Connection
from marketplace_core.errors import DomainError, ErrorCode
from marketplace_core.inventory import service as inventory
from marketplace_core.pos import credentials, events
from marketplace_core.pos import service as pos
from platform_common.money import MAX_AMOUNT
from platform_common.validated import EARLIEST, LATEST, check_text
from schemas.pos.signing import verify

Source = Literal["kafka", "http"]
Status = Literal["applied", "duplicate", "rejected"]

TILL_EVENT_TYPES = ("sale", "refund", "void", "discount", "cash_in", "cash_out")
MAX_ITEMS = 500
MAX_RECEIPT_NUMBER = 64
_STOCK_REASON = {"sale": "pos_sale", "refund": "pos_refund", "void": "pos_void"}

# Dead-letter reason code -> the stable API code of the refusal.
REASONS: dict[str, str] = {
    "UNKNOWN_DEVICE": ErrorCode.DEVICE_NOT_FOUND,
    "INVALID_DEVICE_TOKEN": ErrorCode.INVALID_DEVICE_TOKEN,
    "DEVICE_RETIRED": ErrorCode.DEVICE_RETIRED,
    "BAD_SIGNATURE": ErrorCode.INVALID_SIGNATURE,
    "SHOP_MISMATCH": ErrorCode.INVALID_POS_EVENT,
    "UNKNOWN_EVENT_TYPE": ErrorCode.INVALID_POS_EVENT,
    "INVALID_RECEIPT_NUMBER": ErrorCode.INVALID_POS_EVENT,
    "INVALID_EVENT_TIME": ErrorCode.INVALID_POS_EVENT,
    "INVALID_AMOUNT": ErrorCode.INVALID_POS_EVENT,
    "TOTAL_MISMATCH": ErrorCode.INVALID_POS_EVENT,
    "MISSING_ORIGINAL_RECEIPT": ErrorCode.INVALID_POS_EVENT,
    "UNKNOWN_ORIGINAL_RECEIPT": ErrorCode.INVALID_POS_EVENT,
    "NOT_VOIDABLE": ErrorCode.INVALID_POS_EVENT,
    "ALREADY_VOIDED": ErrorCode.INVALID_POS_EVENT,
    "NOT_REFUNDABLE": ErrorCode.INVALID_POS_EVENT,
    "REFUND_EXCEEDS_SALE": ErrorCode.INVALID_POS_EVENT,
    "UNDECODABLE": ErrorCode.INVALID_POS_EVENT,
    "NO_ITEMS": ErrorCode.INVALID_ITEM,
    "TOO_MANY_ITEMS": ErrorCode.INVALID_ITEM,
    "MISSING_ITEM_REF": ErrorCode.INVALID_ITEM,
    "UNKNOWN_VARIANT": ErrorCode.INVALID_ITEM,
    "INVALID_QUANTITY": ErrorCode.INVALID_ITEM,
    "PRICE_MISMATCH": ErrorCode.INVALID_ITEM,
}


@dataclass(frozen=True)
class Origin:
    """Where an event came from, kept with its dead letter."""

    source: Source
    raw_value: bytes
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Outcome:
    status: Status
    device_id: str | None
    receipt_number: str | None = None
    code: str | None = None  # API code: DUPLICATE_SALE, INVALID_ITEM, ...
    reason: str | None = None  # dead-letter reason code
    message: str | None = None
    dead_letter_id: UUID | None = None


class Rejection(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.code = REASONS[reason]
        self.message = message


class _Duplicate(Exception):
    pass


@dataclass(frozen=True)
class _Line:
    variant_id: UUID
    qty: int
    unit_price: Decimal


# --- entry points ----------------------------------------------------------------------------

def apply_till_event(
    conn: Connection, record: Mapping[str, Any], *, token: str | None, origin: Origin,
    now: datetime,
) -> Outcome:
    """Check and apply one till event (see the module doc). Never raises for a bad event:
    the outcome says applied / duplicate / rejected."""
    device_id = _text(record.get("device_id"))
    receipt = _text(record.get("receipt_number"))
    with conn.transaction():
        try:
            with conn.transaction():  # the event's effects: undone whole if it is refused
                _apply_till(conn, record, token, now, origin.source)
        except _Duplicate:
            _count(conn, device_id, "duplicates", now)
            return Outcome("duplicate", device_id, receipt, ErrorCode.DUPLICATE_SALE,
                           message=f"receipt {receipt} of {device_id} was already applied")
        except Rejection as refused:
            return _reject(conn, refused, origin, device_id, receipt, now)
        _count(conn, device_id, "applied", now)
    return Outcome("applied", device_id, receipt)


def apply_heartbeat(
    conn: Connection, record: Mapping[str, Any], *, token: str | None, origin: Origin,
    now: datetime, heard_at: datetime | None = None,
) -> Outcome:
    """Check a heartbeat (device, token, signature, shop) and record it: last_heartbeat_at
    (never backwards), firmware, pos_active, the shop's eligibility. The stock snapshot is
    diagnostics only: stock moves come from till events."""
    device_id = _text(record.get("device_id"))
    with conn.transaction():
        try:
            with conn.transaction():
                auth = _authenticate(conn, record, device_id, token)
                reported = record.get("status")
                pos.record_heartbeat(
                    conn, auth.device_id, now=now, heard_at=heard_at,
                    firmware_version=_text(record.get("firmware_version")),
                    reported_status=reported[:32] if isinstance(reported, str) else None)
        except Rejection as refused:
            return _reject(conn, refused, origin, device_id, None, now)
        _count(conn, device_id, "heartbeats", now)
    return Outcome("applied", device_id)


def reject_undecodable(
    conn: Connection, origin: Origin, message: str, now: datetime, *,
    device_id: str | None = None,
) -> Outcome:
    """Dead-letter a message that could not be read at all."""
    return _reject(conn, Rejection("UNDECODABLE", message), origin, device_id, None, now)


# --- checks ----------------------------------------------------------------------------------

def _text(value: object) -> str | None:
    """A non-empty string PostgreSQL can store (the API's `Text` rule, for the Kafka path
    too: platform_common.validated); anything else counts as missing."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return check_text(value)
    except PydanticCustomError:
        return None


def _authenticate(conn: Connection, record: Mapping[str, Any], device_id: str | None,
                  token: str | None) -> credentials.DeviceAuth:
    auth = device_id and credentials.device_auth(conn, device_id)
    if not auth:
        raise Rejection("UNKNOWN_DEVICE", f"device {device_id!r} is not registered")
    if not credentials.token_matches(auth, token):
        raise Rejection("INVALID_DEVICE_TOKEN", f"wrong or missing token for {device_id}")
    if auth.status == "retired":
        raise Rejection("DEVICE_RETIRED", f"device {device_id} is retired")
    signature = record.get("signature")
    if not auth.secret or not verify(record, auth.secret,
                                     signature if isinstance(signature, str) else None):
        raise Rejection("BAD_SIGNATURE", "the signature does not verify with the device secret")
    # A record that names no shop (an HTTP body may omit it) cannot name a wrong one.
    named_shop = record.get("shop_id")
    if named_shop is not None and str(named_shop) != str(auth.shop_id):
        raise Rejection("SHOP_MISMATCH", f"device {device_id} belongs to shop {auth.shop_id}")
    return auth


def _amount(record: Mapping[str, Any], field: str, *, signed: bool = False) -> Decimal | None:
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or (value < 0 and not signed):
        raise Rejection("INVALID_AMOUNT", f"{field} must be a non-negative amount")
    if abs(value) > MAX_AMOUNT:
        raise Rejection("INVALID_AMOUNT", f"{field} is beyond {MAX_AMOUNT}")
    return value


def _apply_till(conn: Connection, record: Mapping[str, Any], token: str | None,
                now: datetime, source: Source) -> None:
    device_id = _text(record.get("device_id"))
    auth = _authenticate(conn, record, device_id, token)
    # One device's events apply one at a time (HTTP and Kafka may race for the same one).
    locked = conn.execute("select last_sequence_number from pos_devices where id = %s"
                          " for update", (auth.device_id,)).fetchone()
    assert locked is not None
    event_type = record.get("event_type") or "sale"
    if event_type not in TILL_EVENT_TYPES:
        raise Rejection("UNKNOWN_EVENT_TYPE", f"unknown event type {event_type!r}")
    receipt = _text(record.get("receipt_number"))
    if receipt is None or len(receipt) > MAX_RECEIPT_NUMBER:
        raise Rejection("INVALID_RECEIPT_NUMBER",
                        f"receipt_number must be 1 to {MAX_RECEIPT_NUMBER} characters")
    if conn.execute("select 1 from pos_receipts where device_id = %s and receipt_number = %s",
                    (auth.device_id, receipt)).fetchone():
        raise _Duplicate()
    event_time = record.get("event_time")
    if not isinstance(event_time, datetime) or event_time.tzinfo is None:
        raise Rejection("INVALID_EVENT_TIME", "event_time must be an aware timestamp")
    if not EARLIEST <= event_time < LATEST:
        raise Rejection("INVALID_EVENT_TIME", "event_time must fall between 2000 and 2100")
    items = record.get("items") or []
    lines = _resolve_items(conn, auth.shop_id, items, check_price=event_type == "sale")
    discount = _amount(record, "discount_amount")
    cash = _amount(record, "cash_amount")
    total = _amount(record, "total", signed=True)  # a discount event's total is negative
    if event_type in ("sale", "refund") and not lines:
        raise Rejection("NO_ITEMS", f"a {event_type} needs at least one item")
    if sum((ln.unit_price * ln.qty for ln in lines), Decimal("0")) > MAX_AMOUNT:
        raise Rejection("INVALID_AMOUNT", f"the items add up to more than {MAX_AMOUNT}")
    if event_type in ("sale", "refund", "void", "discount") and total is not None:
        expected = sum((ln.unit_price * ln.qty for ln in lines), Decimal("0")) - (
            discount or Decimal("0"))
        if total != expected:
            raise Rejection("TOTAL_MISMATCH", f"total {total} != items - discount = {expected}")
    if event_type in ("cash_in", "cash_out") and not cash:
        raise Rejection("INVALID_AMOUNT", f"a {event_type} needs a positive cash_amount")
    original = _text(record.get("original_receipt_number"))
    moves = _stock_moves(conn, auth, event_type, lines, original, receipt)

    sequence = record.get("sequence_number") or 0
    sequence = sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else 0
    row = conn.execute(
        "insert into pos_receipts (device_id, receipt_number, shop_id, sale_id, event_type,"
        " sequence_number, out_of_order, original_receipt_number, total, discount_amount,"
        " cash_amount, event_time, received_at, source)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " on conflict (device_id, receipt_number) do nothing returning id",
        (auth.device_id, receipt, auth.shop_id, _uuid(record.get("sale_id")) or uuid4(),
         event_type, sequence, 0 < sequence <= int(locked[0]), original, total, discount,
         cash, event_time, now, source),
    ).fetchone()
    if row is None:  # applied concurrently after our check (cannot happen under the lock)
        raise _Duplicate()
    receipt_id = int(row[0])
    with conn.cursor() as cur:
        cur.executemany(
            "insert into pos_receipt_items (receipt_id, line_no, variant_id, qty, unit_price)"
            " values (%s, %s, %s, %s, %s)",
            [(receipt_id, n, ln.variant_id, ln.qty, ln.unit_price)
             for n, ln in enumerate(lines, start=1)])
    if moves:
        done = inventory.apply_till_moves(conn, moves, reason=_STOCK_REASON[event_type])
        with conn.cursor() as cur:
            cur.executemany(
                "insert into pos_receipt_moves (receipt_id, variant_id, delta, shortage)"
                " values (%s, %s, %s, %s)",
                [(receipt_id, m.variant_id, m.delta, m.shortage) for m in done])
        oversold = sum(m.shortage for m in done)
        if oversold:
            conn.execute(
                "insert into pos_ingest_counters (device_id, oversold_units) values (%s, %s)"
                " on conflict (device_id) do update set oversold_units ="
                " pos_ingest_counters.oversold_units + excluded.oversold_units",
                (auth.device_id, oversold))
            from marketplace_core.pos.notifications import stock_discrepancy
            stock_discrepancy(conn, auth.device_id, auth.shop_id, receipt, oversold,
                              datetime.now(UTC))
    if event_type == "void":
        conn.execute("update pos_receipts set voided_by = %s"
                     " where device_id = %s and receipt_number = %s",
                     (receipt, auth.device_id, original))
    conn.execute("update pos_devices set last_sequence_number ="
                 " greatest(last_sequence_number, %s) where id = %s", (sequence, auth.device_id))
    # Last, in the same savepoint: only an applied event is published (core.pos_receipts).
    events.emit_receipt_applied(conn, receipt_id)


def _uuid(value: object) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _resolve_items(conn: Connection, shop_id: UUID, items: Sequence[Any], *,
                   check_price: bool) -> list[_Line]:
    """The lines with their variants found in the device's shop (live variants only)."""
    if len(items) > MAX_ITEMS:
        raise Rejection("TOO_MANY_ITEMS", f"at most {MAX_ITEMS} items per receipt")
    wanted: list[tuple[int, UUID | None, str | None, int, Decimal]] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            raise Rejection("MISSING_ITEM_REF", f"item {n} is not a record")
        qty = item.get("qty")
        if isinstance(qty, bool) or not isinstance(qty, int) or not (
                1 <= qty <= inventory.MAX_LINE_QTY):
            raise Rejection("INVALID_QUANTITY",
                            f"item {n}: qty must be 1 to {inventory.MAX_LINE_QTY}, got {qty!r}")
        price = item.get("unit_price")
        if not isinstance(price, Decimal) or not price.is_finite() or not (
                0 <= price <= MAX_AMOUNT):
            raise Rejection("INVALID_AMOUNT", f"item {n}: unit_price must be a non-negative amount")
        variant_ref, barcode = item.get("variant_id"), _text(item.get("barcode"))
        variant_id = _uuid(variant_ref)
        if variant_ref is not None and variant_id is None:
            raise Rejection("UNKNOWN_VARIANT", f"item {n}: {variant_ref!r} is not a variant id")
        if variant_id is None and barcode is None:
            raise Rejection("MISSING_ITEM_REF", f"item {n} has neither variant_id nor barcode")
        wanted.append((n, variant_id, barcode, qty, price))
    by_id = catalog_stock.live_variants_by_id(
        conn, shop_id, [w[1] for w in wanted if w[1] is not None])
    by_barcode = catalog_stock.live_variants_by_barcode(
        conn, shop_id, [w[2] for w in wanted if w[1] is None and w[2] is not None])
    lines: list[_Line] = []
    for n, variant_id, barcode, qty, price in wanted:
        found = by_id.get(variant_id) if variant_id is not None else by_barcode.get(barcode or "")
        if found is None:
            ref = variant_id if variant_id is not None else f"barcode {barcode}"
            raise Rejection("UNKNOWN_VARIANT", f"item {n}: {ref} is not sold by this shop")
        real_id, current_price = found
        if check_price and price != current_price:
            raise Rejection("PRICE_MISMATCH",
                            f"item {n}: till price {price} != online price {current_price}")
        lines.append(_Line(real_id, qty, price))
    return lines


def _stock_moves(conn: Connection, auth: credentials.DeviceAuth, event_type: str,
                 lines: list[_Line], original: str | None, receipt: str) -> dict[UUID, int]:
    if event_type in ("sale", "refund"):
        per_variant: dict[UUID, int] = {}
        for ln in lines:
            per_variant[ln.variant_id] = per_variant.get(ln.variant_id, 0) + ln.qty
        if event_type == "refund":
            _check_refund(conn, auth.device_id, original, receipt, per_variant)
        try:
            units = inventory.till_stock_units(conn, auth.shop_id, per_variant)
        except DomainError as exc:  # a bundle with a deleted component
            raise Rejection("UNKNOWN_VARIANT", exc.message) from exc
        sign = -1 if event_type == "sale" else 1
        return {v: sign * qty for v, qty in units.items()}
    if event_type == "void":
        if original is None:
            raise Rejection("MISSING_ORIGINAL_RECEIPT", "a void names the receipt it voids")
        target = conn.execute(
            "select id, event_type, voided_by from pos_receipts"
            " where device_id = %s and receipt_number = %s for update",
            (auth.device_id, original)).fetchone()
        if target is None:
            raise Rejection("UNKNOWN_ORIGINAL_RECEIPT",
                            f"receipt {original} of {auth.device_id} was not applied")
        if target[1] not in ("sale", "refund"):
            raise Rejection("NOT_VOIDABLE", f"receipt {original} is a {target[1]}")
        if target[2] is not None:
            raise Rejection("ALREADY_VOIDED", f"receipt {original} was voided by {target[2]}")
        if original == receipt:
            raise Rejection("NOT_VOIDABLE", "a receipt cannot void itself")
        if target[1] == "sale" and _live_refunds(conn, auth.device_id, original):
            # Voiding would put back the whole sale on top of what its refunds returned.
            raise Rejection("NOT_VOIDABLE",
                            f"receipt {original} was partly refunded; void its refunds first")
        taken = conn.execute("select variant_id, delta from pos_receipt_moves"
                             " where receipt_id = %s", (target[0],)).fetchall()
        return {variant_id: -delta for variant_id, delta in taken if delta}
    return {}


def _live_refunds(conn: Connection, device_id: str, original: str) -> list[tuple[UUID, int]]:
    """(variant, qty) of every line of the refunds of `original` that stand (not voided)."""
    return [(v, int(q)) for v, q in conn.execute(
        "select i.variant_id, i.qty from pos_receipts r"
        " join pos_receipt_items i on i.receipt_id = r.id"
        " where r.device_id = %s and r.original_receipt_number = %s"
        " and r.event_type = 'refund' and r.voided_by is null",
        (device_id, original)).fetchall()]


def _check_refund(conn: Connection, device_id: str, original: str | None, receipt: str,
                  per_variant: dict[UUID, int]) -> None:
    """A refund reverses a sale this device applied and returns at most what it sold, per
    variant, counting the refunds of that sale already applied (a forged or mistaken
    refund must not raise stock)."""
    if original is None:
        raise Rejection("MISSING_ORIGINAL_RECEIPT", "a refund names the sale it refunds")
    if original == receipt:
        raise Rejection("NOT_REFUNDABLE", "a receipt cannot refund itself")
    # Locked: two refunds of one sale (HTTP and Kafka) must not both pass the check.
    target = conn.execute(
        "select id, event_type, voided_by from pos_receipts"
        " where device_id = %s and receipt_number = %s for update",
        (device_id, original)).fetchone()
    if target is None:
        raise Rejection("UNKNOWN_ORIGINAL_RECEIPT",
                        f"receipt {original} of {device_id} was not applied")
    if target[1] != "sale":
        raise Rejection("NOT_REFUNDABLE", f"receipt {original} is a {target[1]}, not a sale")
    if target[2] is not None:
        raise Rejection("NOT_REFUNDABLE", f"receipt {original} was voided by {target[2]}")
    sold: dict[UUID, int] = {}
    for variant_id, qty in conn.execute(
            "select variant_id, qty from pos_receipt_items where receipt_id = %s",
            (target[0],)).fetchall():
        sold[variant_id] = sold.get(variant_id, 0) + int(qty)
    for variant_id, qty in _live_refunds(conn, device_id, original):
        sold[variant_id] = sold.get(variant_id, 0) - qty
    for variant_id, qty in per_variant.items():
        left = sold.get(variant_id, 0)
        if qty > left:
            raise Rejection("REFUND_EXCEEDS_SALE",
                            f"receipt {original} has {max(left, 0)} unit(s) of {variant_id}"
                            f" left to refund, not {qty}")


# --- outcomes of refusals ----------------------------------------------------------------------

def _count(conn: Connection, device_id: str | None, column: str, now: datetime) -> None:
    stamp = {"duplicates": ", last_duplicate_at = %(now)s",
             "rejected": ", last_rejected_at = %(now)s"}.get(column, "")
    # Counters exist only for registered devices (an unknown id is not a device).
    conn.execute(
        f"insert into pos_ingest_counters (device_id, {column})"  # column is ours
        " select id, 1 from pos_devices where id = %(device)s"
        f" on conflict (device_id) do update set {column} = pos_ingest_counters.{column} + 1"
        + stamp,
        {"device": device_id, "now": now})


def _reject(conn: Connection, refused: Rejection, origin: Origin, device_id: str | None,
            receipt: str | None, now: datetime) -> Outcome:
    dead_letter_id = record_dead_letter(conn, refused.reason, refused.message, origin,
                                        device_id=device_id, receipt_number=receipt, now=now)
    if dead_letter_id is not None:
        _count(conn, device_id, "rejected", now)
    return Outcome("rejected", device_id, receipt, refused.code, refused.reason,
                   refused.message, dead_letter_id)


def record_dead_letter(
    conn: Connection, reason: str, message: str, origin: Origin, *,
    device_id: str | None, receipt_number: str | None, now: datetime,
) -> UUID | None:
    """Keep a refused event; the ingest consumer publishes it to pos.dead_letter. A Kafka
    message already dead-lettered (a replay) is not stored twice: returns None then."""
    row = conn.execute(
        "insert into pos_dead_letters (id, reason_code, message, source, source_topic,"
        " source_partition, source_offset, device_id, receipt_number, raw_value, detected_at)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " on conflict (source_topic, source_partition, source_offset) where source = 'kafka'"
        " do nothing returning id",
        (uuid4(), reason, message[:2000], origin.source, origin.topic, origin.partition,
         origin.offset, device_id, receipt_number, origin.raw_value, now),
    ).fetchone()
    return row[0] if row else None
