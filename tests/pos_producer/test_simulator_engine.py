"""The simulation's timeline, with recording tills instead of Kafka: deterministic for a
seed, the right mix of till events, heartbeats every 30 s except during a silence."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from pos_producer.simulator import run as sim
from pos_producer.simulator.rhythm import BISHKEK
from pos_producer.simulator.seeding import SeededDevice, SeededVariant, SeededWorld, SeedState
from pos_producer.simulator.world import World, build_world

TUESDAY_8AM = datetime(2025, 6, 10, 8, 0, tzinfo=BISHKEK)


class RecordingTill:
    """Stands in for `pos_producer.Terminal`: keeps what it was asked to record."""

    def __init__(self, device: SeededDevice, clock: sim.SimClock,
                 journal: list[tuple[Any, ...]]) -> None:
        self.device, self.clock, self.journal, self.seq = device, clock, journal, 0

    def _event(self, kind: str, *detail: Any) -> str:
        self.seq += 1
        number = f"{self.device.device_id}-{self.seq:08d}"
        self.journal.append((self.device.device_id, self.clock(), kind, number, detail))
        return number

    def sale(self, items: Any, discount_amount: Decimal | None = None) -> str:
        return self._event("sale", tuple(items), discount_amount)

    def refund(self, original_receipt_number: str, items: Any) -> str:
        return self._event("refund", original_receipt_number, tuple(items))

    def void(self, original_receipt_number: str) -> str:
        return self._event("void", original_receipt_number)

    def discount(self, amount: Decimal, original_receipt_number: str | None = None) -> str:
        return self._event("discount", amount, original_receipt_number)

    def cash_in(self, amount: Decimal) -> str:
        return self._event("cash_in", amount)

    def cash_out(self, amount: Decimal) -> str:
        return self._event("cash_out", amount)

    def heartbeat(self, stock: Any = (), firmware_version: str | None = None,
                  status: str = "active") -> int:
        self._event("heartbeat", tuple((s.sku, s.qty) for s in stock))
        return self.seq

    def pump(self, timeout: float = 0.0) -> int:
        return 0

    def pending(self) -> int:
        return 0

    def close(self, timeout: float = 1.0) -> None:
        pass


def offline_seeded(world: World, devices: int, tmp_path: Path) -> SeededWorld:
    """The world as if seeded, with made-up ids (no core needed)."""
    specs = world.devices(devices)
    state = SeedState.load(tmp_path / "state.json", seed=world.seed, api_url="offline")
    return SeededWorld(
        world=world,
        devices=tuple(SeededDevice(
            key=d.key, device_id=f"POS-{i + 1:04d}", shop_key=d.shop_key,
            shop_id=str(uuid5(NAMESPACE_URL, d.shop_key)),
            market=world.shop(d.shop_key).market, token="t", secret="s")
            for i, d in enumerate(specs)),
        variants_by_shop={s.key: tuple(
            SeededVariant(variant_id=str(uuid5(NAMESPACE_URL, f"{s.key}/{v.sku}")), sku=v.sku,
                          barcode=v.barcode, price=v.price, stock=v.stock)
            for v in s.variants) for s in world.shops},
        state=state, seconds=0.0)


def _run(tmp_path: Path, seed: int, *, devices: int = 12, hours: float = 10,
         silent_fraction: float = 0.25, merchants: int = 10, skus: int = 80,
         ) -> tuple[sim.SimResult, list[tuple[Any, ...]]]:
    world = build_world(seed, merchants=merchants, skus=skus)
    seeded = offline_seeded(world, devices, tmp_path)
    journal: list[tuple[Any, ...]] = []
    options = sim.SimOptions(seed=seed, rate=30, duration=0.2, speedup=hours * 3600 / 0.2,
                             silent_fraction=silent_fraction, start=TUESDAY_8AM, tick=0.01)
    result = sim.simulate(seeded, options,
                          lambda device, clock: RecordingTill(device, clock, journal))
    return result, journal


def test_same_seed_same_events_other_seed_other_events(tmp_path: Path) -> None:
    a, journal_a = _run(tmp_path / "a", 5)
    b, journal_b = _run(tmp_path / "b", 5)
    _, journal_c = _run(tmp_path / "c", 6)
    assert journal_a == journal_b
    assert len(journal_a) > 1000
    summary = a.summary()
    summary.pop("wall_seconds")
    other = b.summary()
    other.pop("wall_seconds")
    assert summary == other
    assert [e[1:3] for e in journal_a] != [e[1:3] for e in journal_c]


def test_event_mix_stock_and_summary(tmp_path: Path) -> None:
    result, journal = _run(tmp_path, 11, devices=30, hours=24, merchants=25, skus=250)
    kinds = Counter(e[2] for e in journal)
    sales = kinds["sale"]
    assert sales > 1500
    assert 0.005 * sales < kinds["refund"] < 0.05 * sales
    assert 0.002 * sales < kinds["void"] < 0.03 * sales
    discounted = sum(1 for e in journal if e[2] == "sale" and e[4][1] is not None)
    assert 0.02 * sales < discounted + kinds["discount"] < 0.09 * sales
    assert 30 <= kinds["cash_in"] + kinds["cash_out"] <= 30 * 6  # a few per till per day
    for e in journal:
        if e[2] == "sale":
            items, _ = e[4]
            assert 1 <= len(items) <= 4 and all(1 <= i.qty <= 3 for i in items)
    # nothing sold at 2 a.m.; receipts follow opening hours
    night = [e for e in journal if e[2] == "sale" and e[1].astimezone(BISHKEK).hour < 6]
    assert not night
    summary = result.summary()
    assert summary["events"] == dict(sorted(kinds.items()))
    assert summary["till_events"] == sum(kinds[k] for k in sim.TILL_EVENTS)
    per_device = Counter(e[0] for e in journal if e[2] in sim.TILL_EVENTS)
    assert {d: v["till_events"] for d, v in summary["per_device"].items() if v["till_events"]} \
        == dict(per_device)
    # the shelves: seeded stock + what the tills recorded, never below zero
    seeded = {v.variant_id: v.stock for vs in offline_seeded(
        build_world(11, merchants=25, skus=250), 30, tmp_path / "x").variants_by_shop.values()
        for v in vs}
    sku_of = {v.variant_id: (d.device.shop_key, v.sku) for d in result.devices
              for v in d.variants}
    shelves = result.devices[0].stock  # the shop of device 0
    for variant_id, delta in summary["stock_delta"].items():
        shop_key, sku = sku_of[variant_id]
        shelf = next(d.stock for d in result.devices if d.device.shop_key == shop_key)
        assert shelf[sku] == seeded[variant_id] + delta >= 0
    assert all(q >= 0 for q in shelves.values())


def test_heartbeats_every_30_s_and_silences_longer_than_10_minutes(tmp_path: Path) -> None:
    result, journal = _run(tmp_path, 3, devices=12, hours=3, silent_fraction=0.25)
    summary = result.summary()
    assert len(summary["silent_devices"]) == 3
    beats: dict[str, list[datetime]] = {}
    for device, at, kind, *_ in journal:
        if kind == "heartbeat":
            beats.setdefault(device, []).append(at)
    for device, times in beats.items():
        gaps = [b - a for a, b in pairwise(times)]
        if device in summary["silent_devices"]:
            silent = summary["per_device"][device]["silent"]
            assert max(gaps) > timedelta(minutes=10)
            length = (datetime.fromisoformat(silent["to"])
                      - datetime.fromisoformat(silent["from"]))
            assert timedelta(minutes=11) <= length <= timedelta(minutes=20)
        else:
            assert max(gaps) == timedelta(seconds=30)
