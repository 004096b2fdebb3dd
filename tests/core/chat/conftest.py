"""Fixtures of the chat tests: a database of their own (the live channel's NOTIFY and the
outbox relay are per database, so no other test's traffic reaches them), the core API on
it (in process), a world of two shops and their sellers, and a lenient anti-spam policy
(the spam tests set their own)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from infra.settings import REPO_ROOT, get_settings
from marketplace_core.chat.policy import ChatPolicy, set_policy
from marketplace_core.db import transaction
from tests.core.auth_helpers import TestUser, make_seller_with_shop, make_user
from tests.core.test_orders_support import make_variant
from tests.in_process_core import core_client, migrated_database

LENIENT = ChatPolicy(messages_per_second=1000.0, message_burst=1000,
                     conversations_per_second=1000.0, conversation_burst=1000,
                     repeat_max=1000, repeat_window=timedelta(minutes=10))


@pytest.fixture(scope="session")
def kafka() -> None:
    """Kafka and the schema registry, started if they are down. Not the `stack` fixture: its
    PostgreSQL start applies this checkout's migrations to the shared `marketplace`
    database, and these tests need nothing of it (they have a database of their own)."""
    from infra.services import by_name

    for name in ("kafka", "schema-registry"):
        svc = by_name(name)
        if not svc.health().ok:
            svc.install()
            svc.start()


@pytest.fixture(scope="session")
def chat_dsn(make_database: Callable[[], str]) -> str:
    return migrated_database(make_database)


@pytest.fixture(scope="session")
def api(chat_dsn: str) -> Iterator[Any]:
    with core_client(chat_dsn) as client:
        yield client


@pytest.fixture(autouse=True)
def lenient_policy() -> Iterator[None]:
    set_policy(LENIENT)
    yield
    set_policy(None)


@dataclass
class World:
    seller: TestUser
    shop_id: UUID
    product_id: UUID
    variant_id: UUID
    other_seller: TestUser
    other_shop_id: UUID
    buyer: TestUser
    other_buyer: TestUser


@pytest.fixture
def world(api: Any) -> World:
    seller, _, shop_id = make_seller_with_shop(api)
    other_seller, _, other_shop = make_seller_with_shop(api)
    with transaction(api.app.state.pool) as conn:
        variant_id = make_variant(conn, shop_id, stock=3)
        product_id = conn.execute("select product_id from product_variants where id = %s",
                                  (variant_id,)).fetchone()[0]
    return World(seller, shop_id, product_id, variant_id, other_seller, other_shop,
                 make_user(api, "buyer"), make_user(api, "buyer"))


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


def open_chat(api: Any, user: TestUser, shop_id: UUID, **body: Any) -> dict[str, Any]:
    answer = api.post("/chat/conversations", headers=user.headers,
                      json={"shop_id": str(shop_id), **body})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()  # type: ignore[no-any-return]


def send(api: Any, user: TestUser, conversation_id: str, text: str,
         status: int = 201, **body: Any) -> dict[str, Any]:
    return ok(api.post(f"/chat/conversations/{conversation_id}/messages", headers=user.headers,
                       json={"text": text, **body}), status)  # type: ignore[no-any-return]


# --- real API processes (the live channel across processes) ----------------------------------

LENIENT_ENV = {"CHAT_MESSAGES_PER_MINUTE": "60000", "CHAT_MESSAGE_BURST": "1000",
               "CHAT_CONVERSATIONS_PER_HOUR": "100000", "CHAT_CONVERSATION_BURST": "1000",
               "CHAT_REPEAT_MAX": "1000"}


@contextmanager
def api_process(dsn: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """One uvicorn process of the core API on `dsn`; yields its base URL (http://...)."""
    host = get_settings().bind_host
    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    log = get_settings().logs_dir / "test-chat-api.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    full = {**os.environ, "POSTGRES_DSN": dsn, "CORE_SWEEP_INTERVAL_SECONDS": "3600",
            "PYTHONPATH": str(REPO_ROOT), **LENIENT_ENV, **(env or {})}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "marketplace_core.api.main:app", "--host", host,
             "--port", str(port), "--workers", "1", "--no-access-log", "--log-level",
             "warning"], cwd=REPO_ROOT, env=full, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    base = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the API exited; see {log}"
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def servers(chat_dsn: str) -> Iterator[tuple[str, str]]:
    """Two API processes on the chat database: A with the default live settings, B with
    short timeouts (auth 1 s, idle 2 s) and a short queue (10 frames)."""
    with api_process(chat_dsn) as a, api_process(chat_dsn, {
            "CHAT_WS_AUTH_TIMEOUT_SECONDS": "1", "CHAT_WS_IDLE_TIMEOUT_SECONDS": "2",
            "CHAT_WS_QUEUE_MAX": "10"}) as b:
        yield a, b


def ws_url(base: str, token: str | None = None) -> str:
    url = base.replace("http://", "ws://") + "/chat/live"
    return url + (f"?access_token={token}" if token else "")
