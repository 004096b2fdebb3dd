"""`pos-producer`: send POS sales for the seeded shops (the first slice's terminal client)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import click
from rich.progress import Progress

from pos_producer.events import PosSale, SaleItem
from pos_producer.producer import PosSaleProducer


@click.group()
def main() -> None:
    """Smart-POS terminal client."""


@main.command("send-sales")
@click.option("--count", default=200, show_default=True, help="Receipts to send.")
@click.option("--seed", default=7, show_default=True, help="Makes the receipts reproducible.")
def send_sales(count: int, seed: int) -> None:
    """Ring up COUNT receipts on the seeded shops' terminals and send them to Kafka."""
    from marketplace_core.db import transaction
    from marketplace_core.migrate import apply_migrations
    from marketplace_core.seed import seed_demo_marketplace

    apply_migrations()
    with transaction() as conn:
        summary = seed_demo_marketplace(conn)
    sales = demo_sales(summary, count=count, seed=seed)
    producer = PosSaleProducer()
    with Progress() as progress:
        task = progress.add_task("sending sales", total=len(sales))
        for sale in sales:
            producer.send(sale)
            progress.advance(task)
    producer.flush()
    total = sum((s.total for s in sales), Decimal("0.00"))
    click.echo(f"sent {len(sales)} receipts, {total} KGS")


def demo_sales(summary, *, count: int, seed: int, now: datetime | None = None) -> list[PosSale]:
    """Deterministic receipts over the last two days, spread over the seeded devices."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    devices = summary.devices
    sales: list[PosSale] = []
    for n in range(count):
        device = devices[n % len(devices)]
        variants = summary.variants_by_shop[device.shop_id]
        picked = rng.sample(variants, k=min(len(variants), rng.randint(1, 3)))
        items = tuple(
            SaleItem(variant_id=v.id, qty=rng.randint(1, 3), unit_price=Decimal(v.price))
            for v in picked
        )
        sales.append(PosSale(
            device_id=device.id,
            shop_id=device.shop_id,
            receipt_number=f"R-{seed}-{n:06d}",
            items=items,
            event_time=now - timedelta(minutes=rng.randint(0, 2 * 24 * 60)),
            sale_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        ))
    return sales
