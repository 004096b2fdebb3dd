"""POS sale values: money only as exact decimals, and the Avro record they become."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from pos_producer.events import Item, PosSale
from schemas.topics import POS_SALES, schema_str


def _sale() -> PosSale:
    return PosSale(
        device_id="POS-0001",
        shop_id=uuid.uuid4(),
        receipt_number="R-1",
        items=(Item(variant_id=uuid.uuid4(), qty=2, unit_price=Decimal("1499.50")),
               Item(variant_id=uuid.uuid4(), qty=1, unit_price=Decimal("0.01"))),
        event_time=datetime(2026, 11, 21, 6, 0, tzinfo=UTC),
    )


def test_total_is_exact() -> None:
    assert _sale().total == Decimal("2999.01")


@pytest.mark.parametrize("price", [1499.5, Decimal("1.005"), Decimal("-1.00")])
def test_bad_prices_are_rejected(price: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        Item(variant_id=uuid.uuid4(), qty=1, unit_price=price)  # type: ignore[arg-type]


def test_quantity_and_items_are_checked() -> None:
    with pytest.raises(ValueError):
        Item(variant_id=uuid.uuid4(), qty=0, unit_price=Decimal("1.00"))
    with pytest.raises(ValueError):
        PosSale(device_id="POS-1", shop_id=uuid.uuid4(), receipt_number="R", items=())


def test_record_round_trips_through_the_avro_schema() -> None:
    import io
    import json

    schema = parse_schema(json.loads(schema_str(POS_SALES)))
    sale = _sale()
    buf = io.BytesIO()
    schemaless_writer(buf, schema, sale.to_record())
    buf.seek(0)
    back = schemaless_reader(buf, schema)
    assert back["items"][0]["unit_price"] == Decimal("1499.50")
    assert back["sale_id"] == sale.sale_id  # fastavro reads logicalType uuid as UUID
    assert back["event_time"] == sale.event_time
