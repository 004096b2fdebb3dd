"""The terminal side without a broker: what a till records, signs and numbers.

Nothing here is sent (background sending is off); the outbox is a real SQLite file.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from pos_producer import DeviceConfig, Item, StockLevel, Terminal, UnknownReceiptError, wire
from pos_producer.cli import main as cli
from pos_producer.events import PosSale
from pos_producer.outbox import Delivery, NewEvent, Outbox
from pos_producer.terminal import ManualClock
from schemas.pos.signing import verify
from schemas.topics import POS_HEARTBEATS, POS_SALES

SECRET = "till-secret-1"
START = datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=UTC)


def _config(tmp_path: Path, device_id: str = "POS-90000001") -> DeviceConfig:
    return DeviceConfig(device_id=device_id, shop_id=uuid.UUID(int=42), token="tok-1",
                        secret=SECRET, outbox_path=tmp_path / f"{device_id}.sqlite")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def till(tmp_path: Path, clock: ManualClock) -> Iterator[Terminal]:
    with Terminal(_config(tmp_path), clock=clock, background=False) as t:
        yield t


def _item(price: str = "1500.00", qty: int = 1) -> Item:
    return Item(variant_id=uuid.UUID(int=7), qty=qty, unit_price=Decimal(price))


def _stored(till: Terminal) -> list[dict]:  # type: ignore[type-arg]
    topics = {POS_SALES.name: POS_SALES, POS_HEARTBEATS.name: POS_HEARTBEATS}
    return [wire.read_body(topics[r.topic], r.body) for r in till.outbox.rows("POS-90000001")]


def test_every_event_type_is_recorded_signed_and_decodes(
    till: Terminal, clock: ManualClock
) -> None:
    sale = till.sale([_item(qty=2), Item(barcode="4006381333931", qty=1,
                                         unit_price=Decimal("99.99"))],
                     discount_amount=Decimal("0.99"))
    clock.advance(timedelta(seconds=5))
    till.refund(sale, [_item()])
    till.void(sale)
    till.discount(Decimal("50.00"), original_receipt_number=sale)
    till.cash_in(Decimal("5000.00"))
    till.cash_out(Decimal("1200.50"))
    till.heartbeat(stock=[StockLevel(variant_id=uuid.UUID(int=7), sku="TEA-1", qty=11)],
                   firmware_version="2.4.1")

    records = _stored(till)
    assert [r.get("event_type", "heartbeat") for r in records] == [
        "sale", "refund", "void", "discount", "cash_in", "cash_out", "heartbeat"]
    # Every record, decoded from Avro (UUIDs, Decimals, datetimes), verifies.
    for record in records:
        assert verify(record, SECRET, record["signature"]), record
        assert not verify(record, "another-secret", record["signature"])
    assert [r["sequence_number"] for r in records] == list(range(1, 8))
    first = records[0]
    assert first["receipt_number"] == sale == "POS-90000001-00000001"
    assert first["total"] == Decimal("3099.00")  # 2 * 1500 + 99.99 - 0.99
    assert first["event_time"] == START.replace(microsecond=123000)  # millisecond precision
    assert first["items"][1] == {"variant_id": None, "barcode": "4006381333931", "qty": 1,
                                 "unit_price": Decimal("99.99")}
    refund, void, discount, cash_in, cash_out, beat = records[1:]
    assert refund["original_receipt_number"] == sale and refund["total"] == Decimal("1500.00")
    # A void repeats the voided sale, so stock and money come back exactly.
    assert void["items"] == first["items"] and void["total"] == first["total"]
    assert discount["total"] == Decimal("-50.00") and discount["items"] == []
    assert cash_in["cash_amount"] == Decimal("5000.00") and cash_in["total"] is None
    assert cash_out["cash_amount"] == Decimal("1200.50")
    assert beat["stock"][0]["qty"] == 11 and beat["firmware_version"] == "2.4.1"
    # A tampered record no longer verifies.
    assert not verify({**first, "total": Decimal("1.00")}, SECRET, first["signature"])


def test_recorded_events_read_back_as_values(till: Terminal) -> None:
    number = till.sale([_item("250.50", 3)])
    event = till.recorded(number)
    assert isinstance(event, PosSale)
    assert event.total == Decimal("751.50") and event.sequence_number == 1
    assert verify(event.to_record(), SECRET, event.signature)
    assert till.recorded("POS-90000001-99999999") is None


def test_receipt_numbers_survive_restarts_and_are_never_reused(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    with Terminal(cfg, background=False) as first:
        numbers = [first.sale([_item()]) for _ in range(3)]
        first.heartbeat()  # heartbeats take a number from the same counter
    # A refused event takes no number.
    with Terminal(cfg, background=False) as second:
        with pytest.raises(ValueError):
            second.sale([])
        numbers.append(second.sale([_item()]))
        assert second.pending() == 5
    assert numbers == ["POS-90000001-00000001", "POS-90000001-00000002",
                       "POS-90000001-00000003", "POS-90000001-00000005"]
    # What is on disk: WAL, synchronous=FULL, one counter per device.
    db = sqlite3.connect(cfg.outbox)
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert db.execute("select last_sequence from device_counter").fetchall() == [(5,)]
    db.close()


def test_a_failing_build_rolls_back_the_number(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")

    def explode(sequence: int) -> NewEvent:
        raise RuntimeError("power cut while encoding")

    with pytest.raises(RuntimeError):
        outbox.record("POS-90000009", explode, START)
    seq = outbox.record("POS-90000009", lambda n: NewEvent(
        "pos.sales", "sale", f"R-{n}", str(uuid.uuid4()), b"x"), START)
    assert seq == 1
    outbox.close()


@pytest.mark.parametrize("price", [1500.0, Decimal("1.005"), Decimal("-1.00"), "10.00",
                                   Decimal("NaN"), Decimal("10000000000.00")])
def test_money_is_an_exact_decimal(price: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        Item(variant_id=uuid.uuid4(), qty=1, unit_price=price)  # type: ignore[arg-type]


def test_bad_events_are_refused_before_anything_is_written(till: Terminal) -> None:
    with pytest.raises(ValueError):
        Item(qty=1, unit_price=Decimal("1.00"))  # neither variant nor barcode
    with pytest.raises((TypeError, ValueError)):
        Item(variant_id=uuid.uuid4(), qty=True, unit_price=Decimal("1.00"))
    with pytest.raises(ValueError):
        till.sale([_item("100.00")], discount_amount=Decimal("100.01"))
    with pytest.raises(TypeError):
        till.cash_in(100)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        till.cash_out(Decimal("0.00"))
    with pytest.raises(ValueError):
        till.refund("", [_item()])
    with pytest.raises(UnknownReceiptError):
        till.void("POS-90000001-00000077")
    assert till.pending() == 0 and till.outbox.counts("POS-90000001").last_sequence == 0


def test_only_sales_are_voided(till: Terminal) -> None:
    sale = till.sale([_item()])
    refund = till.refund(sale, [_item()])
    with pytest.raises(ValueError):
        till.void(refund)


def test_delivered_events_are_pruned_after_the_retention_window(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")
    for _ in range(3):
        outbox.record("POS-90000003", lambda n: NewEvent(
            "pos.sales", "sale", f"R-{n}", str(uuid.uuid4()), b"x"), START)
    outbox.mark_delivered([Delivery("POS-90000003", 1, 0, 10)], START)
    outbox.mark_delivered([Delivery("POS-90000003", 2, 0, 11)], START + timedelta(days=6))
    assert outbox.prune(START + timedelta(days=7, seconds=1) - timedelta(days=7)) == 1
    counts = outbox.counts("POS-90000003")
    # The undelivered event is never pruned, and the counter stays.
    assert (counts.pending, counts.delivered, counts.last_sequence) == (1, 1, 3)
    outbox.close()


def test_config_file_and_flags(tmp_path: Path) -> None:
    shop = uuid.uuid4()
    config = tmp_path / "till.toml"
    config.write_text(f'device_id = "POS-90000004"\nshop_id = "{shop}"\ntoken = "t"\n'
                      f'secret = "s"\noutbox_path = "{tmp_path / "till.sqlite"}"\n'
                      'retention_days = 2\n')
    runner = CliRunner()
    # Recording works with no broker reachable: the event waits in the outbox.
    result = runner.invoke(cli, ["sell", "--config", str(config), "--variant", str(uuid.uuid4()),
                                 "--qty", "2", "--price", "1500.00", "--flush-timeout", "0"])
    assert result.exit_code == 0, result.output
    assert "POS-90000004-00000001" in result.output
    status = runner.invoke(cli, ["status", "--config", str(config), "--json"])
    assert status.exit_code == 0, status.output
    body = json.loads(status.output)
    assert body["last_sequence"] == 1 and body["pending"] + body["delivered"] == 1
    # Bad input is a usage error, not a traceback.
    bad = runner.invoke(cli, ["sell", "--config", str(config), "--variant", str(uuid.uuid4()),
                              "--price", "1500.001"])
    assert bad.exit_code == 2 and "2 decimals" in bad.output
    missing = runner.invoke(cli, ["sell", "--device", "POS-90000004", "--price", "1.00",
                                  "--variant", str(uuid.uuid4())])
    assert missing.exit_code == 2 and "--shop" in missing.output
    with pytest.raises(ValueError):
        DeviceConfig(device_id="POS-1", shop_id=shop, token="", secret="s")
