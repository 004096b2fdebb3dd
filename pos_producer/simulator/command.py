"""`pos-producer simulate` (also `python -m pos_producer.simulator`): seed the Bishkek world
through the core API (idempotent), then run its terminals on a simulated clock.

    pos-producer simulate --seed 42 --devices 120 --rate 5 --duration 60 --speedup 60
    pos-producer simulate --seed 7 --merchants 5 --skus 40 --devices 5 --seed-only
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pos_producer.settings import get_pos_settings
from pos_producer.simulator import run as sim
from pos_producer.simulator.seeding import SeededWorld, default_state_path, seed_world
from pos_producer.simulator.world import DEFAULT_MERCHANTS, DEFAULT_SKUS, MerchantSpec, build_world


def _sim_dir() -> Path:
    return get_pos_settings().data_dir / "sim"


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        start = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date-time: {value!r}") from exc
    if start.tzinfo is None:
        from pos_producer.simulator.rhythm import BISHKEK

        start = start.replace(tzinfo=BISHKEK)  # a wall-clock time in Bishkek
    return start


def seed_with_progress(console: Console, *, seed: int, merchants: int, skus: int,
                       devices: int, api_url: str | None, state: Path | None,
                       threads: int) -> SeededWorld:
    world = build_world(seed, merchants=merchants, skus=skus)
    facts = world.summary()
    console.print(f"world {seed}: {facts['merchants']} merchants, {facts['shops']} shops, "
                  f"{facts['skus']} SKUs, {devices} terminals "
                  f"({facts['paid_plan_merchants']} merchants on the PRO trial)")
    with Progress(TextColumn("seeding through the core API"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("seed", total=len(world.merchants))

        def done(_: MerchantSpec) -> None:
            progress.advance(task)

        seeded = seed_world(world, devices=devices, api_url=api_url, state_path=state,
                            threads=threads, progress=done)
    console.print(f"seeded in {seeded.seconds:.1f} s (state: {seeded.state.path})")
    return seeded


def _print_summary(console: Console, summary: dict[str, Any], path: Path) -> None:
    table = Table(title=f"simulation {summary['start']} → {summary['end']}")
    table.add_column("event")
    table.add_column("count", justify="right")
    for kind, n in summary["events"].items():
        table.add_row(kind, str(n))
    table.add_row("[bold]till events (pos.sales)", str(summary["till_events"]))
    table.add_row("pending after flush", str(summary["pending"]))
    console.print(table)
    busiest = sorted(summary["per_device"].items(), key=lambda kv: -kv[1]["till_events"])[:5]
    console.print("busiest tills: " + ", ".join(
        f"{device} {d['till_events']}" for device, d in busiest))
    if summary["silent_devices"]:
        console.print("silent for > 10 min: " + ", ".join(summary["silent_devices"]))
    console.print(f"summary: {path}")


@click.command("simulate")
@click.option("--seed", default=42, show_default=True, help="Same seed, same world and events.")
@click.option("--devices", default=120, show_default=True, help="POS terminals to run.")
@click.option("--rate", default=5.0, show_default=True,
              help="Receipts per terminal per simulated hour at the busiest moment.")
@click.option("--duration", default=60.0, show_default=True, help="Wall-clock seconds.")
@click.option("--speedup", default=60.0, show_default=True,
              help="Simulated seconds per wall-clock second.")
@click.option("--silent-fraction", default=0.05, show_default=True,
              help="Share of terminals that go silent for 11-20 simulated minutes.")
@click.option("--start", default=None,
              help="Simulated start, ISO (Bishkek time if no offset); default now.")
@click.option("--merchants", default=DEFAULT_MERCHANTS, show_default=True)
@click.option("--skus", default=DEFAULT_SKUS, show_default=True, help="SKUs in the world.")
@click.option("--api-url", default=None, help="Core API; default: the settings' core_api_url.")
@click.option("--state", "state_path", type=click.Path(path_type=Path), default=None,
              help="Ids and credentials of the seeded world [.local/pos/sim-<seed>.json].")
@click.option("--outbox-dir", type=click.Path(path_type=Path), default=None,
              help="Where each terminal's SQLite outbox lives [.local/pos/sim].")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path), default=None,
              help="Where the run's summary JSON goes [.local/pos/sim/summary-<seed>.json].")
@click.option("--threads", default=8, show_default=True, help="Parallel seeding requests.")
@click.option("--seed-only", is_flag=True, help="Seed the world, do not run the terminals.")
def simulate(seed: int, devices: int, rate: float, duration: float, speedup: float,
             silent_fraction: float, start: str | None, merchants: int, skus: int,
             api_url: str | None, state_path: Path | None, outbox_dir: Path | None,
             summary_path: Path | None, threads: int, seed_only: bool) -> None:
    """A realistic Bishkek marketplace of POS terminals, deterministic for --seed."""
    if devices < 1 or rate <= 0 or duration < 0 or speedup <= 0:
        raise click.BadParameter("devices ≥ 1, rate > 0, duration ≥ 0 and speedup > 0")
    if not 0 <= silent_fraction <= 1:
        raise click.BadParameter("--silent-fraction is between 0 and 1")
    console = Console()
    seeded = seed_with_progress(
        console, seed=seed, merchants=merchants, skus=skus, devices=devices, api_url=api_url,
        state=state_path or default_state_path(seed), threads=threads)
    if seed_only:
        return
    options = sim.SimOptions(seed=seed, rate=rate, duration=duration, speedup=speedup,
                             silent_fraction=silent_fraction, start=_parse_start(start))
    outboxes = outbox_dir or _sim_dir()
    summary_file = summary_path or _sim_dir() / f"summary-{seed}.json"
    shown = [0.0]

    def report(now: datetime, sims: list[sim.DeviceSim]) -> None:
        if time.monotonic() - shown[0] >= 5:
            shown[0] = time.monotonic()
            n = sum(sum(s.record.events[t] for t in sim.TILL_EVENTS) for s in sims)
            console.print(f"{now.astimezone(sim.rhythm.BISHKEK):%Y-%m-%d %H:%M:%S} Bishkek: "
                          f"{n} till events")

    result = sim.simulate(seeded, options, sim.terminal_factory(outboxes), on_tick=report)
    summary = result.summary()
    sim.write_summary(summary, summary_file)
    _print_summary(console, summary, summary_file)
    if result.pending:
        raise click.ClickException(f"{result.pending} events are still in the outboxes "
                                   f"({outboxes}); they go out on the next run")
