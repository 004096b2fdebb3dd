"""Account administration from the shell (admins and analysts are never self-registered).

    python -m marketplace_core.accounts create-admin --email root@bazaar.kg --full-name "Admin"
    python -m marketplace_core.accounts create-analyst --email ana@bazaar.kg --full-name "Ana"

The password is prompted for (hidden, twice). The command prints the TOTP secret and its
otpauth:// URI: the new account adds it to an authenticator app and confirms it with
POST /auth/totp/confirm (core API) before the first login; the access token it gets from
POST /auth/login (or that confirmation) is also the serving API's bearer token.
"""

from __future__ import annotations

import click

from marketplace_core.accounts import service
from marketplace_core.db import transaction
from marketplace_core.errors import DomainError


@click.group()
def cli() -> None:
    """Manage core accounts."""


_EMAIL = click.option("--email", required=True, help="The account's e-mail (login).")
_NAME = click.option("--full-name", required=True, help="The account holder's name.")
_PASSWORD = click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                         help="At least 10 characters (prompted if omitted).")
_DSN = click.option("--dsn", default=None,
                    help="Database DSN (default: settings' POSTGRES_DSN).")


@cli.command("create-admin")
@_EMAIL
@_NAME
@_PASSWORD
@_DSN
def create_admin(email: str, full_name: str, password: str, dsn: str | None) -> None:
    """Create an admin account and print its TOTP enrolment."""
    _create("admin", email, full_name, password, dsn)


@cli.command("create-analyst")
@_EMAIL
@_NAME
@_PASSWORD
@_DSN
def create_analyst(email: str, full_name: str, password: str, dsn: str | None) -> None:
    """Create an analyst account (reads every shop's reports on the serving API, manages
    nothing) and print its TOTP enrolment."""
    _create("analyst", email, full_name, password, dsn)


def _create(role: str, email: str, full_name: str, password: str, dsn: str | None) -> None:
    create = service.create_admin if role == "admin" else service.create_analyst
    try:
        with transaction(dsn) as conn:
            reg = create(conn, email=email, password=password, full_name=full_name)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    assert reg.totp is not None
    click.echo(f"{role} created: {reg.user.id} ({reg.user.email})")
    click.echo(f"TOTP secret:   {reg.totp.secret}")
    click.echo(f"TOTP URI:      {reg.totp.uri}")
    click.echo("Confirm 2FA with POST /auth/totp/confirm {email, password, code}.")


def main() -> None:
    cli()
