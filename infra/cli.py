"""`python -m infra up|down|status|logs|install`: the local stack's one entry point."""

from __future__ import annotations

import sys
import time

import click

from infra import process
from infra.services import all_services, by_name, infrastructure
from infra.services.base import Service


def _selected(names: tuple[str, ...], apps: bool) -> list[Service]:
    if names:
        return [by_name(n) for n in names]
    return all_services() if apps else infrastructure()


def _step(msg: str) -> None:
    click.echo(click.style("==> ", fg="cyan", bold=True) + msg)


@click.group()
def main() -> None:
    """Install, start, check and stop the platform's local services."""


@main.command()
@click.argument("names", nargs=-1)
def install(names: tuple[str, ...]) -> None:
    """Fetch and build every service that is missing (idempotent)."""
    for svc in _selected(names, apps=True):
        started = time.monotonic()
        _step(f"install {svc.name}")
        svc.install()
        click.echo(f"    {svc.name} installed ({time.monotonic() - started:.1f}s)")


@main.command()
@click.argument("names", nargs=-1)
@click.option("--apps/--no-apps", default=True, help="Also start the serving API and Dagster.")
def up(names: tuple[str, ...], apps: bool) -> None:
    """Install what is missing and start services in dependency order."""
    t0 = time.monotonic()
    for svc in _selected(names, apps):
        started = time.monotonic()
        _step(f"{svc.name}: install")
        svc.install()
        _step(f"{svc.name}: start" + ("" if svc.managed else " (external: checking only)"))
        try:
            svc.start()
        except Exception as exc:
            click.echo(click.style(f"    {svc.name} failed: {exc}", fg="red"), err=True)
            click.echo(f"    last lines of {process.log_file(svc.name)}:", err=True)
            _tail(svc.name, 25, err=True)
            sys.exit(1)
        click.echo(f"    {svc.name}: {svc.health().detail} ({time.monotonic() - started:.1f}s)")
    _step(f"stack ready in {time.monotonic() - t0:.1f}s")


@main.command()
@click.argument("names", nargs=-1)
def down(names: tuple[str, ...]) -> None:
    """Stop services in reverse order."""
    for svc in reversed(_selected(names, apps=True)):
        if svc.stop():
            click.echo(f"stopped {svc.name}")


@main.command()
def status() -> None:
    """One line per service: pid, health, detail. Exit 1 if any is unhealthy."""
    bad = 0
    for svc in all_services():
        pid = svc.pid()
        h = svc.health()
        where = f"pid {pid}" if pid else ("external" if not svc.managed else "not running")
        mark = click.style("ok  ", fg="green") if h.ok else click.style("DOWN", fg="red")
        click.echo(f"{mark} {svc.name:<16} {where:<12} {h.detail}")
        bad += 0 if h.ok else 1
    sys.exit(1 if bad else 0)


@main.command()
@click.argument("name", required=False)
@click.option("-n", "--lines", default=40)
def logs(name: str | None, lines: int) -> None:
    """The last lines of one service's log (or of each)."""
    for svc in [by_name(name)] if name else all_services():
        click.echo(click.style(f"--- {process.log_file(svc.name)}", bold=True))
        _tail(svc.name, lines)


def _tail(name: str, lines: int, err: bool = False) -> None:
    path = process.log_file(name)
    if path.exists():
        text = path.read_text(errors="replace").splitlines()[-lines:]
        click.echo("\n".join(text), err=err)


if __name__ == "__main__":
    main()
