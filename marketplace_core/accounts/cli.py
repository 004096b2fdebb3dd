"""Account administration from the shell (admins are never self-registered).

    python -m marketplace_core.accounts create-admin --email root@bazaar.kg --full-name "Admin"

The password is prompted for (hidden, twice). The command prints the TOTP secret and its
otpauth:// URI: the new admin adds it to an authenticator app and confirms it with
POST /auth/totp/confirm before the first login.
"""

from __future__ import annotations

import click

from marketplace_core.accounts import service
from marketplace_core.db import transaction
from marketplace_core.errors import DomainError


@click.group()
def cli() -> None:
    """Manage core accounts."""


@cli.command("create-admin")
@click.option("--email", required=True, help="The admin's e-mail (login).")
@click.option("--full-name", required=True, help="The admin's name.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters (prompted if omitted).")
@click.option("--dsn", default=None, help="Database DSN (default: settings' POSTGRES_DSN).")
def create_admin(email: str, full_name: str, password: str, dsn: str | None) -> None:
    """Create an admin account and print its TOTP enrolment."""
    try:
        with transaction(dsn) as conn:
            reg = service.create_admin(conn, email=email, password=password,
                                       full_name=full_name)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    assert reg.totp is not None
    click.echo(f"admin created: {reg.user.id} ({reg.user.email})")
    click.echo(f"TOTP secret:   {reg.totp.secret}")
    click.echo(f"TOTP URI:      {reg.totp.uri}")
    click.echo("Confirm 2FA with POST /auth/totp/confirm {email, password, code}.")


def main() -> None:
    cli()
