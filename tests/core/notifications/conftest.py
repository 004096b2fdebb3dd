"""Fixtures of the notifications tests: their own database (the queue is shared by
whoever dispatches, so no other test's rows may wait in it), the core API on it, Mailpit
(started if missing), a controllable clock and the providers (real SMTP to Mailpit, the
push and SMS simulators reporting to the API's webhook)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from infra.settings import get_settings
from marketplace_core.accounts import service as accounts
from marketplace_core.notifications.channels import (
    Providers,
    SimulatedPush,
    SimulatedSms,
    SmtpEmailProvider,
)
from marketplace_core.notifications.worker import NotificationsWorker
from tests.in_process_core import core_client, migrated_database


@pytest.fixture(scope="session")
def notify_dsn(make_database: Callable[[], str]) -> str:
    return migrated_database(make_database)


@pytest.fixture(scope="session")
def mailpit() -> str:
    """The local Mailpit (installed and started if it is not running); its base URL."""
    from infra.services.mailpit import Mailpit

    svc = Mailpit()
    if not svc.health().ok:
        svc.install()
        svc.start()
    return get_settings().mailpit_url


@pytest.fixture(scope="session")
def api(notify_dsn: str) -> Iterator[Any]:
    with core_client(notify_dsn) as client:
        yield client


@pytest.fixture
def db(notify_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection; the queue is emptied of earlier tests' leftovers."""
    with psycopg.connect(notify_dsn, autocommit=True) as conn:
        conn.execute("update notification_log set status = 'suppressed',"
                     " last_error = 'left by an earlier test' where status in"
                     " ('queued', 'sending')")
        conn.execute("delete from notification_dedup")
        yield conn


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    # 10:00 in Bishkek (UTC+6): outside any night-time quiet hours
    return Clock(datetime(2031, 3, 4, 4, 0, tzinfo=UTC))


@pytest.fixture
def providers(api: Any, mailpit: str) -> Providers:
    def post(provider: str, body: bytes, headers: dict[str, str]) -> None:
        r = api.post(f"/notifications/webhook/{provider}", content=body, headers=headers)
        assert r.status_code == 200, r.text

    return Providers(push=SimulatedPush(callback=post, timeout=0.2),
                     email=SmtpEmailProvider(), sms=SimulatedSms(callback=post, timeout=0.2))


@pytest.fixture
def worker(notify_dsn: str, providers: Providers, clock: Clock) -> NotificationsWorker:
    return NotificationsWorker(notify_dsn, providers=providers, clock=clock, consume=False)


def make_user(conn: psycopg.Connection[Any], role: str = "buyer", *,
              language: str = "ru", phone: str | None = None) -> tuple[UUID, str]:
    """(user id, e-mail) of a new account."""
    email = f"{role}-{secrets.token_hex(6)}@notify-test.example.kg"
    with conn.transaction():
        reg = accounts.register_user(conn, email=email, password="correct horse battery",
                                     full_name=f"Айгуль {role}", role=role, password_rounds=4)
        conn.execute("update users set preferred_language = %s, phone = %s where id = %s",
                     (language, phone, reg.user.id))
    return reg.user.id, email


def rows(conn: psycopg.Connection[Any], event_id: UUID) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("select * from notification_log where event_id = %s"
                           " order by array_position(array['push', 'email', 'sms'], channel)",
                           (event_id,)).fetchall()


def mailbox(address: str, *, expect: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The messages Mailpit holds for `address` (full messages, newest first), waiting
    until at least `expect` arrived."""
    base = get_settings().mailpit_url
    deadline = time.monotonic() + timeout
    while True:
        found = httpx.get(f"{base}/api/v1/search", params={"query": f'to:"{address}"'},
                          timeout=5).json().get("messages") or []
        if len(found) >= expect or time.monotonic() > deadline:
            return [httpx.get(f"{base}/api/v1/message/{m['ID']}", timeout=5).json()
                    for m in found]
        time.sleep(0.2)
