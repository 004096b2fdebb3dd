"""The demo's till sales: the seeded demo shops' terminals (`pos_producer.Terminal`, each
with credentials the core issues) ring up a deterministic plan of receipts and deliver it.

The terminal itself imports nothing from the core; wiring the two together for a demo is
the orchestration's job (`make demo` calls `ring_up_demo_sales`).

    python -m orchestration.demo_pos --count 200 --seed 7
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import click

from marketplace_core.db import transaction
from marketplace_core.migrate import apply_migrations
from marketplace_core.pos.credentials import issue_credentials
from marketplace_core.seed import seed_demo_marketplace
from pos_producer.config import DeviceConfig
from pos_producer.events import Item, PosSale
from pos_producer.terminal import ManualClock, Terminal


def demo_plan(summary: Any, *, count: int, seed: int, now: datetime | None = None
              ) -> dict[str, list[tuple[datetime, tuple[Item, ...]]]]:
    """Deterministic receipts over the last two days, spread over the seeded devices:
    per device, (device time, items) in time order."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    plan: dict[str, list[tuple[datetime, tuple[Item, ...]]]] = {}
    devices = summary.devices
    for n in range(count):
        device = devices[n % len(devices)]
        variants = summary.variants_by_shop[device.shop_id]
        picked = rng.sample(variants, k=min(len(variants), rng.randint(1, 3)))
        items = tuple(
            Item(variant_id=v.id, qty=rng.randint(1, 3), unit_price=Decimal(v.price))
            for v in picked
        )
        at = now - timedelta(minutes=rng.randint(0, 2 * 24 * 60))
        plan.setdefault(device.id, []).append((at, items))
    for receipts in plan.values():
        receipts.sort(key=lambda r: r[0])
    return plan


def ring_up_demo_sales(summary: Any, *, count: int, seed: int, timeout: float = 60.0
                       ) -> list[PosSale]:
    """Ring the demo plan up on each seeded device's Terminal (outbox under local_dir/pos)
    and deliver it; returns the sales as recorded (device time backdated by the plan)."""
    shops = {d.id: d.shop_id for d in summary.devices}
    # The demo's terminals get real credentials from the core (rotated on every demo run),
    # so the POS ingest accepts their signed sales like any other terminal's.
    with transaction() as conn:
        issued = {d.id: issue_credentials(conn, d.id) for d in summary.devices}
    sales: list[PosSale] = []
    for device_id, receipts in demo_plan(summary, count=count, seed=seed).items():
        cfg = DeviceConfig(device_id=device_id, shop_id=shops[device_id],
                           token=issued[device_id].token, secret=issued[device_id].secret)
        clock = ManualClock(receipts[0][0])
        with Terminal(cfg, clock=clock) as till:
            for at, items in receipts:
                clock.set(at)
                recorded = till.recorded(till.sale(items))
                assert recorded is not None
                sales.append(recorded)
            left = till.flush(timeout)
        if left:
            raise click.ClickException(f"{device_id}: {left} event(s) not delivered")
    return sales


@click.command()
@click.option("--count", default=200, show_default=True, help="Receipts to ring up.")
@click.option("--seed", default=7, show_default=True, help="Makes the receipts reproducible.")
def main(count: int, seed: int) -> None:
    """Ring up COUNT receipts on the seeded shops' terminals and send them to Kafka."""
    apply_migrations()
    with transaction() as conn:
        summary = seed_demo_marketplace(conn)
    sales = ring_up_demo_sales(summary, count=count, seed=seed)
    total = sum((s.total or Decimal("0.00") for s in sales), Decimal("0.00"))
    click.echo(f"sent {len(sales)} receipts, {total} KGS")


if __name__ == "__main__":
    main()
