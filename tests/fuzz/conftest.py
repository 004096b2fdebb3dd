"""Fixtures of the fuzz pass: each API in-process on a session database of its own, with a
small world (a seller with a shop, a product and a terminal; a buyer; an admin; an analyst)
so that generated requests carry real credentials and, half the time, real ids."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from infra.settings import get_settings
from tests.core.auth_helpers import make_seller_with_shop, make_user
from tests.fuzz.harness import Target
from tests.in_process_core import core_client, migrated_database
from tests.own_local_dir import own_local_dir


@pytest.fixture(scope="session")
def fuzz_dsn(make_database: Callable[[], str]) -> str:
    return migrated_database(make_database)


@pytest.fixture(scope="session")
def fuzz_core(fuzz_dsn: str) -> Iterator[Any]:
    # raise_server_exceptions=False: a crash must show as the 500 a client would get
    with core_client(fuzz_dsn, raise_server_exceptions=False) as client:
        yield client


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def core_target(fuzz_core: Any) -> Target:
    seller, merchant_id, shop_id = make_seller_with_shop(fuzz_core)
    admin = make_user(fuzz_core, "admin")
    eraser = make_user(fuzz_core, "buyer")  # POST /users/me/erase erases whoever calls it
    product = fuzz_core.post(f"/shops/{shop_id}/products", headers=seller.headers, json={
        "name": {"ru": "Товар", "ky": "Товар"},
        "variants": [{"sku": "FUZZ-1", "price": "100.00", "stock_qty": 5}]})
    assert product.status_code == 201, product.text
    body = product.json()
    device = fuzz_core.post(f"/shops/{shop_id}/pos/devices", headers=seller.headers,
                            json={"firmware_version": "1.0"})
    assert device.status_code == 201, device.text
    creds = device.json()
    known = {"shop_id": shop_id, "merchant_id": merchant_id, "product_id": body["id"],
             "variant_id": body["variants"][0]["id"], "device_id": creds["device_id"],
             "user_id": eraser.id}
    internal = get_settings().internal_token

    def headers_for(method: str, path: str) -> dict[str, str]:
        if path.startswith("/auth/"):
            return {}
        if path in ("/pos/heartbeat", "/pos/sales"):
            return _headers(creds["token"])
        if path == "/pos/devices/{device_id}/heartbeat":
            return {"X-Internal-Token": internal}
        if path == "/users/me/erase":
            return eraser.headers
        if path.startswith(("/admin/", "/moderation/", "/categories")) or path.endswith(
                ("/approve", "/reject", "/payout/suspend")):
            return admin.headers
        return seller.headers

    return Target(client=fuzz_core, headers_for=headers_for, known_ids=known)


@contextmanager
def core_api_over_http(dsn: str) -> Iterator[str]:
    """The core API served for real on a free loopback port (the dashboard's sign-in
    forwards to it over HTTP), stopped on exit; yields its base URL."""
    import uvicorn

    from marketplace_core.api.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(dsn, run_sweeper=False),
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "core API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


# Module scope: it points PLATFORM_LOCAL_DIR at a warehouse of its own, which must not
# outlive the serving fuzz module (later tests' `stack` would look for services there).
@pytest.fixture(scope="module")
def serving_target(fuzz_dsn: str, fuzz_core: Any,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The serving API over an empty embedded warehouse of its own (the marts exist, empty,
    so reports answer rather than 503), signing in through a core API on loopback."""
    root: Path = tmp_path_factory.mktemp("fuzz-serving")
    with own_local_dir(root) as mp:
        seller, _, shop_id = make_seller_with_shop(fuzz_core)
        analyst = make_user(fuzz_core, "analyst")
        internal = get_settings().internal_token
        with core_api_over_http(fuzz_dsn) as core_url:
            # the dashboard's sign-in forwards to the core over HTTP: a core of its own
            mp.setenv("CORE_API_URL", core_url)
            get_settings.cache_clear()
            yield from _serving_target(fuzz_dsn, seller, analyst, shop_id, internal)


def _serving_target(dsn: str, seller: Any, analyst: Any, shop_id: Any,
                    internal: str) -> Iterator[Target]:
    from fastapi.testclient import TestClient

    from serving_api.main import create_app
    from tests.serving_api.report_marts import create_empty_marts

    with TestClient(create_app(dsn), raise_server_exceptions=False) as client:
        create_empty_marts()
        _create_empty_ad_events()

        def headers_for(method: str, path: str) -> dict[str, str]:
            if path.startswith("/internal/"):
                return {"X-Internal-Token": internal}
            if path.startswith("/analytics/sql"):
                return analyst.headers
            return seller.headers

        yield Target(client=client, headers_for=headers_for,
                     known_ids={"shop_id": shop_id})


def _create_empty_ad_events() -> None:
    """The dbt model /internal/ads/billable-events reads, empty (else a documented 503)."""
    from warehouse.client import get_client

    db = get_settings().warehouse_database
    get_client().command(
        f"CREATE OR REPLACE TABLE `{db}`.int_ad_events_classified (campaign_id String, "
        "business_date Date, pricing String, event_type String, price Decimal(18, 2), "
        "billable UInt8) ENGINE = MergeTree ORDER BY tuple()")
