"""The simulation: every seeded terminal rings up a day of a Bishkek till on a simulated
clock, through the real `Terminal` (durable outbox, signatures, Kafka).

Time. Device time = start + wall-clock elapsed × speedup. Each device draws its own
timeline from its own `random.Random` (seeded from the world seed and the device), and all
devices' events are fired in one global order (time, then device), so what happens is a
function of (seed, start, speedup, duration, flags) only, never of thread scheduling or of
how fast the loop spins. The run fires every event up to start + duration × speedup.

What a till does:
* receipts arrive as a Poisson process whose rate follows the market's daily rhythm
  (`rhythm.intensity`, peak = `rate` receipts per hour); of them ~96 % are sales (1-4
  lines, 1-3 units, ~4 % with a discount), ~2 % refunds of an earlier receipt, ~1 % voids
  of a recent sale, ~1 % discounts granted on a recent receipt;
* the drawer: a few cash-ins (change float, in the morning) and cash-outs (collections,
  afternoon) a day;
* a heartbeat every 30 s with the stock the till believes is on the shelf.

Silent devices (`silent_fraction`) lose the network for 11-20 simulated minutes: no
heartbeats then (so the core takes their shop out of online purchase after 10 minutes),
sales still recorded offline in the outbox and delivered when the network is back.

At the end everything is flushed and a summary (counts per type and device, stock deltas
per variant) is written as JSON, so a test can compare the core and Kafka with it.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from platform_common.money import CENT, format_money, to_cents_half_even
from pos_producer.simulator import rhythm
from pos_producer.simulator.seeding import SeededDevice, SeededVariant, SeededWorld
from pos_producer.simulator.world import market

HEARTBEAT_EVERY = timedelta(seconds=30)
SILENCE_MINUTES = (11.0, 20.0)  # > the core's 10-minute POS timeout
CASH_EVENTS_PER_DAY = 3.0
P_REFUND, P_VOID, P_DISCOUNT = 0.02, 0.01, 0.01  # of receipt events; the rest are sales
P_DISCOUNTED_SALE = 0.04
P_BARCODE_ONLY_TILL = 0.25  # older tills without a catalog sync send the scanned barcode
_RECEIPTS_KEPT = 500  # how far back a till looks for a receipt to refund
_TEN = Decimal(10)

# The six till events that go to pos.sales (heartbeats go to pos.heartbeats).
TILL_EVENTS = ("sale", "refund", "void", "discount", "cash_in", "cash_out")


class Till(Protocol):
    """What the simulation needs of a terminal (`pos_producer.Terminal` is one)."""

    def sale(self, items: Any, discount_amount: Decimal | None = None) -> str: ...
    def refund(self, original_receipt_number: str, items: Any) -> str: ...
    def void(self, original_receipt_number: str) -> str: ...
    def discount(self, amount: Decimal, original_receipt_number: str | None = None) -> str: ...
    def cash_in(self, amount: Decimal) -> str: ...
    def cash_out(self, amount: Decimal) -> str: ...
    def heartbeat(self, stock: Any = (), firmware_version: str | None = None,
                  status: str = "active") -> int: ...
    def pump(self, timeout: float = 0.0) -> int: ...
    def pending(self) -> int: ...
    def close(self, timeout: float = 1.0) -> None: ...


class SimClock:
    """A device's clock: the simulated time of the event being recorded."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


TillFactory = Callable[[SeededDevice, SimClock], Till]


@dataclass(frozen=True)
class SimOptions:
    seed: int
    rate: float = 5.0  # receipts per device per simulated hour at the busiest moment
    duration: float = 60.0  # wall-clock seconds
    speedup: float = 60.0
    silent_fraction: float = 0.05
    start: datetime | None = None  # simulated start (aware); default: now
    tick: float = 0.05  # wall seconds between loop turns
    flush_timeout: float = 60.0


@dataclass
class _Receipt:
    number: str
    lines: list[tuple[SeededVariant, int]]
    refunded: Counter[str] = field(default_factory=Counter)  # sku -> units refunded
    voided: bool = False


@dataclass
class DeviceRecord:
    """What one device recorded during the run."""

    events: Counter[str] = field(default_factory=Counter)
    stock_delta: Counter[str] = field(default_factory=Counter)  # variant_id -> units
    revenue: Decimal = Decimal("0.00")  # sales - refunds - voids - discounts
    skipped_heartbeats: int = 0
    out_of_stock: int = 0
    pending: int = 0
    silent: tuple[datetime, datetime] | None = None
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (time, type, detail)


class DeviceSim:
    """One terminal's timeline: the next heartbeat, receipt and cash event."""

    def __init__(self, device: SeededDevice, variants: tuple[SeededVariant, ...],
                 stock: dict[str, int], seed: int, options: SimOptions, start: datetime,
                 silence: tuple[datetime, datetime] | None, firmware: str) -> None:
        self.device = device
        self.market = market(device.market)
        self.variants = variants
        self.stock = stock  # shared by the tills of one shop: sku -> units on the shelf
        self.rng = random.Random(f"till:{seed}:{device.key}")
        self.firmware = firmware
        self.barcode_only = self.rng.random() < P_BARCODE_ONLY_TILL
        self.record = DeviceRecord(silent=silence)
        self.receipts: list[_Receipt] = []
        self._peak_per_s = max(options.rate, 1e-9) / 3600.0
        open_hours = max(self.market.closes - self.market.opens, 1.0)
        self._cash_per_s = CASH_EVENTS_PER_DAY / (open_hours * 3600.0)
        self.next_beat = start + self.rng.random() * HEARTBEAT_EVERY
        self.next_receipt = start + self._gap(self._peak_per_s)
        self.next_cash = start + self._gap(self._cash_per_s)

    def _gap(self, per_second: float) -> timedelta:
        return timedelta(seconds=self.rng.expovariate(per_second))

    def next_time(self) -> datetime:
        return min(self.next_beat, self.next_receipt, self.next_cash)

    def is_silent(self, at: datetime) -> bool:
        s = self.record.silent
        return s is not None and s[0] <= at < s[1]

    def fire(self, till: Till, clock: SimClock) -> None:
        """Do the earliest pending thing (heartbeats first on a tie)."""
        at = self.next_time()
        clock.now = at
        if at == self.next_beat:
            self.next_beat = at + HEARTBEAT_EVERY
            if self.is_silent(at):
                self.record.skipped_heartbeats += 1
            else:
                till.heartbeat(stock=self._stock_levels(), firmware_version=self.firmware)
                self.record.events["heartbeat"] += 1
        elif at == self.next_receipt:
            self.next_receipt = at + self._gap(self._peak_per_s)
            if self.rng.random() < rhythm.intensity(self.market, at):
                self._receipt(till, at)
        else:
            self.next_cash = at + self._gap(self._cash_per_s)
            if rhythm.is_open(self.market, at):
                self._cash(till, at)

    # --- the till's business -------------------------------------------------------------

    def _note(self, at: datetime, kind: str, detail: str) -> None:
        self.record.events[kind] += 1
        self.record.log.append((at.isoformat(), kind, detail))

    def _item(self, v: SeededVariant, qty: int) -> Any:
        from pos_producer.events import Item

        if self.barcode_only:
            return Item(barcode=v.barcode, qty=qty, unit_price=v.price)
        return Item(variant_id=UUID(v.variant_id), qty=qty, unit_price=v.price)

    def _stock_levels(self) -> list[Any]:
        from pos_producer.events import StockLevel

        return [StockLevel(variant_id=UUID(v.variant_id), barcode=v.barcode, sku=v.sku,
                           qty=self.stock[v.sku]) for v in self.variants]

    def _receipt(self, till: Till, at: datetime) -> None:
        u = self.rng.random()
        if u < P_REFUND and self._refund(till, at):
            return
        if u < P_REFUND + P_VOID and self._void(till, at):
            return
        if u < P_REFUND + P_VOID + P_DISCOUNT and self._discount(till, at):
            return
        self._sale(till, at)

    def _sale(self, till: Till, at: datetime) -> None:
        on_shelf = [v for v in self.variants if self.stock[v.sku] > 0]
        if not on_shelf:
            self.record.out_of_stock += 1
            return
        picked = self.rng.sample(on_shelf, min(len(on_shelf), self.rng.randint(1, 4)))
        lines = [(v, min(self.rng.randint(1, 3), self.stock[v.sku])) for v in picked]
        total = sum((v.price * q for v, q in lines), Decimal("0.00"))
        discount = None
        if self.rng.random() < P_DISCOUNTED_SALE and total >= 100:
            share = Decimal(self.rng.randint(3, 15)) / 100
            discount = max(_TEN, (total * share / _TEN).to_integral_value() * _TEN)
            discount = to_cents_half_even(min(discount, total - CENT))
        number = till.sale([self._item(v, q) for v, q in lines], discount_amount=discount)
        for v, q in lines:
            self.stock[v.sku] -= q
            self.record.stock_delta[v.variant_id] -= q
        self.record.revenue += total - (discount or 0)
        self.receipts.append(_Receipt(number, lines))
        del self.receipts[:-_RECEIPTS_KEPT]
        self._note(at, "sale", f"{number} {len(lines)} lines {total} KGS"
                               + (f" -{discount}" if discount else ""))

    def _refund(self, till: Till, at: datetime) -> bool:
        candidates = [r for r in self.receipts if not r.voided
                      and any(q > r.refunded[v.sku] for v, q in r.lines)]
        if not candidates:
            return False
        receipt = self.rng.choice(candidates)
        v, sold = self.rng.choice([(v, q) for v, q in receipt.lines if q > receipt.refunded[v.sku]])
        qty = self.rng.randint(1, sold - receipt.refunded[v.sku])
        number = till.refund(receipt.number, [self._item(v, qty)])
        receipt.refunded[v.sku] += qty
        self.stock[v.sku] += qty
        self.record.stock_delta[v.variant_id] += qty
        self.record.revenue -= v.price * qty
        self._note(at, "refund", f"{number} of {receipt.number}: {v.sku} x{qty}")
        return True

    def _void(self, till: Till, at: datetime) -> bool:
        recent = [r for r in self.receipts[-5:] if not r.voided and not r.refunded]
        if not recent:
            return False
        receipt = recent[-1]  # the cashier cancels the receipt just rung up
        number = till.void(receipt.number)
        receipt.voided = True
        for v, q in receipt.lines:
            self.stock[v.sku] += q
            self.record.stock_delta[v.variant_id] += q
            self.record.revenue -= v.price * q
        self._note(at, "void", f"{number} of {receipt.number}")
        return True

    def _discount(self, till: Till, at: datetime) -> bool:
        if not self.receipts:
            return False
        receipt = self.receipts[-1]
        amount = to_cents_half_even(Decimal(self.rng.randint(1, 20) * 10))
        number = till.discount(amount, original_receipt_number=receipt.number)
        self.record.revenue -= amount
        self._note(at, "discount", f"{number} on {receipt.number}: {amount}")
        return True

    def _cash(self, till: Till, at: datetime) -> None:
        if rhythm.local_hour(at) < 13:
            amount = to_cents_half_even(Decimal(self.rng.randint(5, 30) * 100))
            number = till.cash_in(amount)
            self._note(at, "cash_in", f"{number} {amount}")
        else:
            amount = to_cents_half_even(Decimal(self.rng.randint(4, 60) * 500))
            number = till.cash_out(amount)
            self._note(at, "cash_out", f"{number} {amount}")


# --- the run ----------------------------------------------------------------------------------


@dataclass
class SimResult:
    options: SimOptions
    start: datetime
    end: datetime
    devices: list[DeviceSim]
    wall_seconds: float
    pending: int

    def summary(self) -> dict[str, Any]:
        events: Counter[str] = Counter()
        stock: Counter[str] = Counter()
        per_device: dict[str, Any] = {}
        for d in self.devices:
            r = d.record
            events.update(r.events)
            stock.update(r.stock_delta)
            per_device[d.device.device_id] = {
                "key": d.device.key, "shop_id": d.device.shop_id, "market": d.device.market,
                "barcode_only": d.barcode_only,
                "events": dict(sorted(r.events.items())),
                "till_events": sum(r.events[t] for t in TILL_EVENTS),
                "heartbeats": r.events["heartbeat"],
                "skipped_heartbeats": r.skipped_heartbeats, "out_of_stock": r.out_of_stock,
                "revenue": format_money(r.revenue),
                "stock_delta": {k: v for k, v in sorted(r.stock_delta.items()) if v},
                "silent": None if r.silent is None
                else {"from": r.silent[0].isoformat(), "to": r.silent[1].isoformat()},
                "pending": r.pending,
            }
        return {
            "seed": self.options.seed, "start": self.start.isoformat(),
            "end": self.end.isoformat(), "speedup": self.options.speedup,
            "duration_s": self.options.duration, "rate_per_hour": self.options.rate,
            "wall_seconds": round(self.wall_seconds, 3), "devices": len(self.devices),
            "events": dict(sorted(events.items())),
            "till_events": sum(events[t] for t in TILL_EVENTS),
            "pending": self.pending,
            "silent_devices": sorted(d.device.device_id for d in self.devices
                                     if d.record.silent is not None),
            "stock_delta": {k: v for k, v in sorted(stock.items()) if v},
            "per_device": per_device,
        }


def _silences(seeded: SeededWorld, options: SimOptions, start: datetime,
              end: datetime) -> dict[str, tuple[datetime, datetime]]:
    rng = random.Random(f"silence:{options.seed}")
    keys = [d.key for d in seeded.devices]
    count = round(len(keys) * options.silent_fraction)
    out = {}
    span = (end - start).total_seconds()
    for key in sorted(rng.sample(keys, min(count, len(keys)))):
        length = rng.uniform(*SILENCE_MINUTES) * 60
        begin = start + timedelta(seconds=rng.uniform(0, max(0.0, span - length)))
        out[key] = (begin, begin + timedelta(seconds=length))
    return out


def build_devices(seeded: SeededWorld, options: SimOptions, start: datetime,
                  end: datetime, stock: dict[str, dict[str, int]]) -> list[DeviceSim]:
    """The devices' timelines; `stock` (shop key -> sku -> units) is updated in place."""
    silences = _silences(seeded, options, start, end)
    firmware = {d.key: d.firmware_version
                for d in seeded.world.devices(len(seeded.devices))}
    sims = []
    for device in seeded.devices:
        variants = seeded.variants_by_shop[device.shop_key]
        shelf = stock.setdefault(device.shop_key, {v.sku: v.stock for v in variants})
        for v in variants:
            shelf.setdefault(v.sku, v.stock)
        sims.append(DeviceSim(device, variants, shelf, options.seed, options, start,
                              silences.get(device.key), firmware[device.key]))
    return sims


def simulate(seeded: SeededWorld, options: SimOptions, till_factory: TillFactory, *,
             on_tick: Callable[[datetime, list[DeviceSim]], None] | None = None) -> SimResult:
    """Run the devices for `options.duration` wall seconds (every event up to start +
    duration × speedup), then deliver what is left."""
    start = (options.start or datetime.now(UTC)).astimezone(UTC)
    end = start + timedelta(seconds=options.duration * options.speedup)
    stock: dict[str, dict[str, int]] = seeded.state.data.setdefault("stock", {})
    sims = build_devices(seeded, options, start, end, stock)
    clocks = [SimClock(start) for _ in sims]
    tills = [till_factory(s.device, c) for s, c in zip(sims, clocks, strict=True)]
    queue = [(s.next_time(), i) for i, s in enumerate(sims)]
    heapq.heapify(queue)
    wall0 = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - wall0
            now = min(end, start + timedelta(seconds=elapsed * options.speedup))
            while queue and queue[0][0] <= now:
                _, i = heapq.heappop(queue)
                sims[i].fire(tills[i], clocks[i])
                heapq.heappush(queue, (sims[i].next_time(), i))
            for s, till, clock in zip(sims, tills, clocks, strict=True):
                if not s.is_silent(now):
                    clock.now = max(clock.now, now)
                    till.pump(0)
            if on_tick is not None:
                on_tick(now, sims)
            if now >= end:
                break
            time.sleep(options.tick)
        pending = _drain(tills, options.flush_timeout)
        for s, till in zip(sims, tills, strict=True):
            s.record.pending = till.pending()
    finally:
        for till in tills:
            till.close()
        seeded.state.save(force=True)  # the shelves as the tills left them
    return SimResult(options, start, end, sims, time.monotonic() - wall0, pending)


def _drain(tills: list[Till], timeout: float) -> int:
    """Pump every till until all outboxes are empty (the network is back for everyone)."""
    deadline = time.monotonic() + timeout
    while True:
        for till in tills:
            till.pump(0)
        left = sum(till.pending() for till in tills)
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def terminal_factory(outbox_dir: Path, *, producer_config: dict[str, Any] | None = None
                     ) -> TillFactory:
    """Real terminals: one `Terminal` per device with its own SQLite outbox, sending only
    when the simulation pumps it (so a silent device really is silent)."""
    from pos_producer.config import DeviceConfig
    from pos_producer.terminal import Terminal

    def make(device: SeededDevice, clock: SimClock) -> Till:
        cfg = DeviceConfig(device_id=device.device_id, shop_id=UUID(device.shop_id),
                           token=device.token, secret=device.secret,
                           outbox_path=outbox_dir / f"{device.device_id}.sqlite",
                           producer_config=producer_config or {})
        return Terminal(cfg, clock=clock, background=False)

    return make


def write_summary(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
