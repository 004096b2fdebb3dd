"""The device API: a smart-POS till that keeps selling whatever the network does.

Every call records one signed event in the durable outbox (SQLite) and returns at once;
a background thread (and `pump()`) sends what is pending. Receipt numbers are
`<device_id>-<sequence_number:08d>`, from the per-device counter the outbox keeps in the
same transaction as the event, so they never repeat, even across a kill -9.

    with Terminal(cfg) as till:
        receipt = till.sale([Item(variant_id=v, qty=1, unit_price=Decimal("1500.00"))])
        till.heartbeat(stock=[StockLevel(variant_id=v, qty=11)], firmware_version="2.4.1")
        till.flush(timeout=30)
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any

from pos_producer import wire
from pos_producer.config import DeviceConfig
from pos_producer.events import (
    CASH_IN,
    CASH_OUT,
    DISCOUNT,
    REFUND,
    SALE,
    VOID,
    Item,
    PosHeartbeat,
    PosSale,
    StockLevel,
)
from pos_producer.outbox import NewEvent, Outbox
from pos_producer.producer import OutboxSender
from schemas.topics import POS_HEARTBEATS, POS_SALES

Clock = Callable[[], datetime]
PRUNE_EVERY_SECONDS = 3600.0


class ManualClock:
    """An injectable clock that only moves when told to (tests, backdated demo data)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at

    def advance(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


class UnknownReceiptError(ValueError):
    """A void names a receipt this till did not ring up (or no longer holds)."""


def receipt_number(device_id: str, sequence_number: int) -> str:
    return f"{device_id}-{sequence_number:08d}"


class Terminal:
    def __init__(
        self,
        config: DeviceConfig,
        clock: Clock | None = None,
        *,
        background: bool = True,
        send_interval: float = 0.2,
        sender: OutboxSender | None = None,
    ) -> None:
        self.config = config
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self.outbox = Outbox(config.outbox)
        self.sender = sender or OutboxSender(self.outbox, config, clock=self._clock)
        self._interval = send_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_prune = 0.0
        if background:
            self._thread = threading.Thread(
                target=self._run, name=f"pos-sender-{config.device_id}", daemon=True)
            self._thread.start()

    # --- context manager -----------------------------------------------------------------

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, timeout: float = 1.0) -> None:
        """Stop sending. Undelivered events stay in the outbox for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.sender.close(timeout)
        self.outbox.close()

    # --- till events -----------------------------------------------------------------------

    def sale(self, items: Sequence[Item], discount_amount: Decimal | None = None) -> str:
        return self._till_event(SALE, items=tuple(items), discount_amount=discount_amount)

    def refund(self, original_receipt_number: str, items: Sequence[Item]) -> str:
        return self._till_event(
            REFUND, items=tuple(items), original_receipt_number=original_receipt_number)

    def void(self, original_receipt_number: str) -> str:
        """Cancel a receipt this till rang up; the void carries its items and total, so
        stock comes back exactly as it went."""
        original = self.outbox.find_receipt(self.config.device_id, original_receipt_number)
        if original is None or original.topic != POS_SALES.name:
            raise UnknownReceiptError(
                f"{self.config.device_id} holds no receipt {original_receipt_number!r}")
        if original.event_type != SALE:
            raise ValueError(f"only sales are voided; {original_receipt_number} is a "
                             f"{original.event_type}")
        sale = PosSale.from_record(wire.read_body(POS_SALES, original.body))
        return self._till_event(
            VOID, items=sale.items, original_receipt_number=original_receipt_number,
            discount_amount=sale.discount_amount,
        )

    def discount(self, amount: Decimal, original_receipt_number: str | None = None) -> str:
        return self._till_event(
            DISCOUNT, discount_amount=amount, original_receipt_number=original_receipt_number)

    def cash_in(self, amount: Decimal) -> str:
        return self._till_event(CASH_IN, cash_amount=amount)

    def cash_out(self, amount: Decimal) -> str:
        return self._till_event(CASH_OUT, cash_amount=amount)

    def heartbeat(
        self,
        stock: Iterable[StockLevel] = (),
        firmware_version: str | None = None,
        status: str = "active",
    ) -> int:
        """Record a heartbeat (the terminal sends one every 30 s); returns its sequence number."""
        stock = tuple(stock)
        at = self._clock()
        device = self.config.device_id

        def build(sequence: int) -> NewEvent:
            beat = PosHeartbeat(
                device_id=device, shop_id=self.config.shop_id, event_time=at, stock=stock,
                status=status, firmware_version=firmware_version, sequence_number=sequence,
            ).signed(self.config.secret)
            return NewEvent(POS_HEARTBEATS.name, "heartbeat", None, str(beat.heartbeat_id),
                            wire.avro_body(POS_HEARTBEATS, beat.to_record()))

        sequence = self.outbox.record(device, build, at)
        self._wake.set()
        return sequence

    # --- sending ---------------------------------------------------------------------------

    def pump(self, timeout: float = 0.0) -> int:
        """Send what is pending and serve delivery reports for up to `timeout` seconds;
        returns how many events were confirmed delivered."""
        return self.sender.step(timeout)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until everything recorded is delivered; returns how many events are left."""
        return self.sender.flush(timeout)

    def pending(self) -> int:
        return self.outbox.pending(self.config.device_id)

    def recorded(self, receipt_number: str) -> PosSale | None:
        """The till event as the outbox holds it (None if unknown or pruned)."""
        row = self.outbox.find_receipt(self.config.device_id, receipt_number)
        if row is None or row.topic != POS_SALES.name:
            return None
        return PosSale.from_record(wire.read_body(POS_SALES, row.body))

    # --- internals -------------------------------------------------------------------------

    def _till_event(self, event_type: str, **fields: Any) -> str:
        at = self._clock()
        device = self.config.device_id
        # Built once outside the transaction to refuse bad input before a number is taken.
        PosSale(device_id=device, shop_id=self.config.shop_id, receipt_number="check",
                event_type=event_type, event_time=at, **fields)
        built: list[PosSale] = []

        def build(sequence: int) -> NewEvent:
            event = PosSale(
                device_id=device, shop_id=self.config.shop_id,
                receipt_number=receipt_number(device, sequence), event_type=event_type,
                event_time=at, sequence_number=sequence, sale_id=uuid.uuid4(), **fields,
            ).signed(self.config.secret)
            built.append(event)
            return NewEvent(POS_SALES.name, event_type, event.receipt_number,
                            str(event.sale_id), wire.avro_body(POS_SALES, event.to_record()))

        self.outbox.record(device, build, at)
        self._wake.set()
        return built[-1].receipt_number

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.sender.step(0.05)
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    self.outbox.prune(self._clock() - self.config.retention)
            except Exception as exc:  # keep the till's sender alive whatever happens
                self.sender.last_error = f"sender: {exc}"
            if self.sender.in_flight() == 0 and self.pending() == 0:
                self._wake.wait(self._interval)
