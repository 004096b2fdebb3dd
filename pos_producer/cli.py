"""`pos-producer`: one smart-POS terminal from the command line, and the simulator.

The device's identity and credentials come from flags or a `--config` file (TOML or JSON
with device_id, shop_id, token, secret and optionally outbox_path, retention_days,
message_timeout_ms); flags win over the file. Every command that records events first
commits them to the device's outbox and then tries to deliver them for `--flush-timeout`
seconds; whatever is not delivered by then is sent by the next command (or `flush`).

    pos-producer sell --device POS-0001 --shop <uuid> --token T --secret S \\
        --variant <uuid> --qty 1 --price 1500.00
    pos-producer heartbeat --config till.toml --firmware 2.4.1
    pos-producer status --device POS-0001
    pos-producer flush --config till.toml --timeout 60
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from platform_common.money import is_whole_cents
from pos_producer.config import DeviceConfig, config_kwargs, default_outbox_path, load_config_file
from pos_producer.events import Item
from pos_producer.outbox import Outbox
from pos_producer.terminal import Terminal


def _device_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
                     help="Device config file (.toml or .json)."),
        click.option("--device", "device_id", help="Device id, e.g. POS-0001."),
        click.option("--shop", "shop_id", help="The shop's id (uuid)."),
        click.option("--token", help="The device token issued at registration."),
        click.option("--secret", help="The device's signing secret."),
        click.option("--outbox", "outbox_path", type=click.Path(path_type=Path),
                     help="SQLite outbox (default: <local_dir>/pos/<device>.sqlite)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(config_file: Path | None, **flags: Any) -> dict[str, Any]:
    raw = load_config_file(config_file) if config_file else {}
    raw.update(config_kwargs({k: v for k, v in flags.items() if v is not None}))
    return raw


def _device_config(config_file: Path | None, **flags: Any) -> DeviceConfig:
    raw = _settings(config_file, **flags)
    missing = [k for k in ("device_id", "shop_id", "token", "secret") if not raw.get(k)]
    if missing:
        names = ", ".join("--" + {"device_id": "device", "shop_id": "shop"}.get(k, k)
                          for k in missing)
        raise click.UsageError(f"missing {names} (flags or --config)")
    try:
        return DeviceConfig(**raw)
    except (TypeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc


def _price(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise click.BadParameter(f"not a decimal amount: {value!r}") from exc
    if not is_whole_cents(amount):
        raise click.BadParameter(f"at most 2 decimals: {value}")
    return amount


def _item(variant: str | None, barcode: str | None, qty: int, price: str) -> Item:
    if not variant and not barcode:
        raise click.UsageError("give --variant or --barcode")
    unit_price = _price(price)
    assert unit_price is not None
    try:
        return Item(variant_id=uuid.UUID(variant) if variant else None, barcode=barcode,
                    qty=qty, unit_price=unit_price)
    except (TypeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc


def _deliver(till: Terminal, timeout: float) -> None:
    left = till.flush(timeout)
    if left:
        click.echo(f"{left} event(s) kept in the outbox for later"
                   + (f" ({till.sender.last_error})" if till.sender.last_error else ""))
    else:
        click.echo("all events delivered")


@click.group()
def main() -> None:
    """Smart-POS terminal client."""


_item_options = [
    click.option("--variant", help="Variant id (uuid)."),
    click.option("--barcode", help="Barcode as scanned, when the variant is not known."),
    click.option("--qty", type=int, default=1, show_default=True),
    click.option("--price", required=True, help="Unit price in KGS, e.g. 1500.00."),
]


def _with_item_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_item_options):
        func = option(func)
    return func


_flush_option = click.option(
    "--flush-timeout", type=float, default=10.0, show_default=True,
    help="Seconds to try delivering before exiting (undelivered events stay queued).")


@main.command()
@_device_options
@_with_item_options
@click.option("--discount", help="KGS taken off the receipt.")
@click.option("--count", type=int, default=1, show_default=True,
              help="Ring up this many identical receipts.")
@click.option("--interval", type=float, default=0.0, show_default=True,
              help="Seconds between receipts when --count > 1.")
@_flush_option
def sell(config_file: Path | None, variant: str | None, barcode: str | None, qty: int,
         price: str, discount: str | None, count: int, interval: float, flush_timeout: float,
         **device: Any) -> None:
    """Ring up a sale (one line item) and send it."""
    item = _item(variant, barcode, qty, price)
    with Terminal(_device_config(config_file, **device)) as till:
        for n in range(count):
            if n and interval:
                time.sleep(interval)
            click.echo(till.sale([item], discount_amount=_price(discount)))
        _deliver(till, flush_timeout)


@main.command()
@_device_options
@click.option("--original", required=True, help="The receipt being refunded.")
@_with_item_options
@_flush_option
def refund(config_file: Path | None, original: str, variant: str | None, barcode: str | None,
           qty: int, price: str, flush_timeout: float, **device: Any) -> None:
    """Refund items of an earlier receipt."""
    item = _item(variant, barcode, qty, price)
    with Terminal(_device_config(config_file, **device)) as till:
        click.echo(till.refund(original, [item]))
        _deliver(till, flush_timeout)


@main.command()
@_device_options
@click.option("--original", required=True, help="The sale being voided (on this till).")
@_flush_option
def void(config_file: Path | None, original: str, flush_timeout: float, **device: Any) -> None:
    """Void a sale this till rang up."""
    with Terminal(_device_config(config_file, **device)) as till:
        try:
            click.echo(till.void(original))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        _deliver(till, flush_timeout)


@main.command()
@_device_options
@click.option("--firmware", "firmware_version", help="Firmware version to report.")
@click.option("--every", type=float, default=None,
              help="Keep sending one every EVERY seconds (Ctrl-C stops).")
@_flush_option
def heartbeat(config_file: Path | None, firmware_version: str | None, every: float | None,
              flush_timeout: float, **device: Any) -> None:
    """Send a heartbeat (or one every --every seconds)."""
    with Terminal(_device_config(config_file, **device)) as till:
        try:
            while True:
                click.echo(f"heartbeat #{till.heartbeat(firmware_version=firmware_version)}")
                if every is None:
                    break
                time.sleep(every)
        except KeyboardInterrupt:
            pass
        _deliver(till, flush_timeout)


@main.command()
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path))
@click.option("--device", "device_id")
@click.option("--outbox", "outbox_path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(config_file: Path | None, device_id: str | None, outbox_path: Path | None,
           as_json: bool) -> None:
    """Pending and delivered counts of a device's outbox."""
    raw = _settings(config_file, device_id=device_id, outbox_path=outbox_path)
    if not raw.get("device_id"):
        raise click.UsageError("missing --device (or --config)")
    path = raw.get("outbox_path") or default_outbox_path(raw["device_id"])
    if not Path(path).exists():
        raise click.UsageError(f"no outbox at {path}")
    outbox = Outbox(Path(path))
    try:
        counts = outbox.counts(raw["device_id"])
    finally:
        outbox.close()
    body = {"device_id": raw["device_id"], "outbox": str(path), "pending": counts.pending,
            "delivered": counts.delivered, "last_sequence": counts.last_sequence,
            "oldest_pending_at": counts.oldest_pending_at}
    if as_json:
        click.echo(json.dumps(body))
    else:
        for key, value in body.items():
            click.echo(f"{key:18} {value}")


@main.command()
@_device_options
@click.option("--timeout", type=float, default=60.0, show_default=True)
def flush(config_file: Path | None, timeout: float, **device: Any) -> None:
    """Deliver everything the outbox holds; exit 1 if something is left."""
    with Terminal(_device_config(config_file, **device), background=False) as till:
        left = till.flush(timeout)
        click.echo(f"pending {left}")
    if left:
        raise SystemExit(1)


from pos_producer.simulator.command import simulate  # noqa: E402  (the simulator's command)

main.add_command(simulate)

if __name__ == "__main__":
    main()
