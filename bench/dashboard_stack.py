"""A throw-away stack for the seller dashboard, shared by its browser test
(tests/dashboard/test_dashboard_browser.py) and its benchmark (bench/dashboard_paint.py).

* `make_seller()` — a seller with TOTP switched on, a merchant and shops, in a core
  database (the accounts and catalog service functions, then the real core API for the TOTP
  confirmation and the merchant). The confirmation uses the code of the *previous* 30 s
  step, so the code an authenticator shows now is still unused: the browser signs in at
  once (the core refuses a code twice).
* `make_products()` — named products of a shop in the core's catalog (the dashboard shows
  their names beside the products report's figures).
* `sales_rows()`, `report_mart_rows()` — plausible marts of a shop: `shop_metric_daily`,
  then every other mart a declared report reads (serving_api/reports/), derived from those
  sales days so the figures agree (the products' revenue adds up to the shop's).
* `write_marts()` — those marts in an embedded warehouse of its own, written by a child
  process (chdb allows one process per warehouse directory, and one directory per process:
  the caller never opens it), before the serving API is started on it. The marts' columns
  (`MART_SCHEMAS`) are bench/mart_schemas.py's, which the serving API's report tests build
  too, with the marts' own types.
* `dashboard_stack()` — the real core API and the real serving API (uvicorn, one process
  each, free loopback ports) on that database and warehouse; the serving API forwards
  sign-ins to that core (`CORE_API_URL`) and serves the installed Chart.js.
* `chromium()` — Debian's headless Chromium driven by Selenium through
  /usr/bin/chromedriver (no Selenium Manager, no browser download), downloads allowed
  into a directory.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from bench.mart_schemas import MARK, SCHEMAS
from infra.settings import REPO_ROOT, get_settings
from platform_common.money import to_cents_down, to_cents_half_even

FAST_BCRYPT_ROUNDS = 4
PASSWORD = "dashboard demo 2024"
MONEY = ("pos_gross", "pos_discounts", "pos_refunds", "pos_voids", "pos_net", "online_gross",
         "online_refunds", "online_net", "net", "pos_sales_amount")
COUNTS = ("receipts", "units", "online_orders")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio",
                  "--lang=ru-RU")


@dataclass(frozen=True)
class Seller:
    user_id: UUID
    email: str
    password: str
    totp_secret: str
    merchant_id: UUID
    shops: dict[str, UUID]  # name → id

    def code(self) -> str:
        from marketplace_core.accounts import totp

        return totp.current_code(self.totp_secret)


def make_seller(dsn: str, core_url: str, shop_names: Sequence[str], *,
                email: str | None = None) -> Seller:
    from marketplace_core.accounts import service, totp
    from marketplace_core.catalog import service as catalog
    from marketplace_core.db import transaction

    address = email or f"seller-{secrets.token_hex(5)}@dashboard.example.kg"
    with transaction(dsn) as conn:
        reg = service.register_user(conn, email=address, password=PASSWORD,
                                    full_name="Айгуль Садыкова", role="seller",
                                    password_rounds=FAST_BCRYPT_ROUNDS)
    assert reg.totp is not None, "sellers enrol TOTP at registration"
    secret = reg.totp.secret
    earlier = totp.current_code(secret, at=time.time() - totp.INTERVAL)
    answer = httpx.post(f"{core_url}/auth/totp/confirm", timeout=30, json={
        "email": address, "password": PASSWORD, "code": earlier})
    answer.raise_for_status()
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    merchant = httpx.post(f"{core_url}/merchants", headers=headers, timeout=30,
                          json={"name": f"ИП Садыкова {secrets.token_hex(3)}"})
    merchant.raise_for_status()
    merchant_id = UUID(merchant.json()["id"])
    shops: dict[str, UUID] = {}
    with transaction(dsn) as conn:
        for name in shop_names:
            shops[name] = catalog.create_shop(conn, merchant_id, name,
                                              address="Бишкек, рынок Дордой",
                                              market="Дордой").id
    return Seller(reg.user.id, address, PASSWORD, secret, merchant_id, shops)


def make_products(dsn: str, shop_id: UUID, names: Sequence[str]) -> list[UUID]:
    """Products of a shop in the core's catalog, in the order of `names`."""
    from marketplace_core.catalog import service as catalog
    from marketplace_core.db import transaction

    with transaction(dsn) as conn:
        return [catalog.create_product(conn, shop_id, name).id for name in names]


# --- marts ----------------------------------------------------------------------------------


def sales_rows(shop_id: UUID, first: date, days: int, *, seed: int = 7,
               scale: int = 1) -> list[dict[str, Any]]:
    """Plausible days of one shop's `shop_metric_daily` (every figure consistent with the
    mart's rules: net = pos_net + online_net, pos_net = gross - discounts - refunds -
    voids), skipping about one day in ten (the mart has no row for a day without sales)."""
    rng = random.Random(f"{seed}-{shop_id}")
    rows = []
    for i in range(days):
        day = first + timedelta(days=i)
        if rng.random() < 0.1:
            continue
        weekend = day.weekday() >= 5
        receipts = rng.randint(8, 30) * scale + (10 if weekend else 0)
        units = receipts + rng.randint(0, receipts)
        gross = to_cents_half_even(Decimal(rng.randint(400, 2600)) * receipts
                                   + Decimal(rng.randint(0, 99)) / 100)
        discounts = to_cents_half_even(gross * Decimal(rng.choice(["0", "0", "0.02", "0.05"])))
        refunds = to_cents_half_even(Decimal(rng.choice([0, 0, 0, 350, 1250])))
        voids = to_cents_half_even(Decimal(rng.choice([0, 0, 0, 0, 480])))
        pos_net = gross - discounts - refunds - voids
        orders = rng.randint(0, 6) * scale
        online_gross = to_cents_half_even(Decimal(rng.randint(900, 4900)) * orders)
        online_refunds = to_cents_half_even(Decimal(rng.choice([0, 0, 0, 900]))) if orders else \
            Decimal("0.00")
        online_net = online_gross - online_refunds
        sales_amount = gross - voids
        rows.append({
            "shop_id": str(shop_id), "merchant_id": "m", "date": day.isoformat(),
            "pos_gross": gross, "pos_discounts": discounts, "pos_refunds": refunds,
            "pos_voids": voids, "pos_net": pos_net, "receipts": receipts, "units": units,
            "avg_receipt": to_cents_half_even(sales_amount / receipts),
            "pos_sales_amount": sales_amount, "online_orders": orders,
            "online_gross": online_gross, "online_refunds": online_refunds,
            "online_net": online_net, "net": pos_net + online_net,
            "online_units": orders,
        })
    return rows


# The marts' columns and types, shared with the serving API's tests.
MART_SCHEMAS = SCHEMAS
# Where the shop's visitors come from, and how many of them (weights).
SOURCE_WEIGHTS = {"map": 30, "feed": 22, "search": 16, "explore": 10, "following": 8,
                  "profile": 6, "ad": 5, "other": 3}
INSIGHT_DROP, INSIGHT_RISE = Decimal("-65"), Decimal("70")


def _split(total: Decimal, weights: Sequence[int]) -> list[Decimal]:
    """`total` in cents over `weights`, exactly (the last part takes the remainder)."""
    whole = sum(weights)
    parts = [to_cents_down(total * w / whole) for w in weights[:-1]]
    return [*parts, total - sum(parts, Decimal("0.00"))]


def _split_int(total: int, weights: Sequence[int]) -> list[int]:
    """`total` over `weights` in whole parts (largest remainders get the leftovers)."""
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))
    for i in by_remainder[:total - sum(parts)]:
        parts[i] += 1
    return parts


def report_mart_rows(shop_id: UUID, sales: list[dict[str, Any]], products: Sequence[UUID],
                     *, posts: int = 8, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Every mart besides `shop_metric_daily` a report reads, for one shop, from its
    `sales` rows (`sales_rows()`): visits by source, follows, the products' views and
    sales (their units and net add up to the day's), posts, the order funnel, a terminal's
    health and the drops and rises of revenue against the 28 days before."""
    rng = random.Random(f"{seed}-marts-{shop_id}")
    shop = str(shop_id)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in MART_SCHEMAS}
    by_day = {row["date"]: row for row in sales}
    days = sorted(by_day)
    post_ids = [str(UUID(int=rng.getrandbits(128), version=4)) for _ in range(posts)]
    weights = [rng.randint(1, 12) ** 2 for _ in products]  # a few products sell most
    for day in days:
        sale = by_day[day]
        receipts, orders = int(sale["receipts"]), int(sale["online_orders"])
        visitors_total = receipts * rng.randint(3, 6) + orders * 8
        for surface, weight in SOURCE_WEIGHTS.items():
            visitors = visitors_total * weight // 100
            if not visitors:
                continue
            views = visitors * rng.randint(2, 4)
            clicks = views * rng.randint(10, 25) // 100
            out["shop_engagement_daily"].append({
                "shop_id": shop, "date": day, "surface": surface, "views": views,
                "shop_views": visitors, "product_views": views - visitors, "visitors": visitors,
                "clicks": clicks, "add_to_cart": clicks * rng.randint(10, 30) // 100,
                "route_builds": visitors // (4 if surface == "map" else 15),
                "chats": visitors // 25, "call_clicks": visitors // 30})
        follows, unfollows = rng.randint(0, 9), rng.randint(0, 3)
        out["shop_follows_daily"].append({"shop_id": shop, "date": day, "follows": follows,
                                          "unfollows": unfollows,
                                          "net_follows": follows - unfollows})
        out["order_funnel_daily"].append({
            "shop_id": shop, "date": day, "created_orders": orders + rng.randint(0, 3),
            "paid_orders": orders, "paid_amount": str(sale["online_gross"])})
        out["pos_device_health_daily"].append({
            "device_id": f"POS-{shop[:8]}", "shop_id": shop, "date": day,
            "heartbeats": rng.randint(120, 160), "online_minutes": f"{rng.randint(560, 720)}.00",
            "offline_spells": rng.choice([0, 0, 0, 1]), "late_heartbeats": rng.randint(0, 4),
            "dead_letters": 0, "dead_letters_by_reason": {}, "offline_transitions": 0})
        if not products:
            continue
        pos_units, online_units = int(sale["units"]), int(sale.get("online_units", orders))
        shares = [max(w + rng.randint(-2, 2), 1) for w in weights]
        for pid, p_units, o_units, pos_net, online_net, share in zip(
                products, _split_int(pos_units, shares), _split_int(online_units, shares),
                _split(Decimal(sale["pos_net"]), shares),
                _split(Decimal(sale["online_net"]), shares), shares, strict=True):
            product = str(pid)
            out["product_metric_daily"].append({
                "shop_id": shop, "product_id": product, "variant_id": product, "date": day,
                "pos_units": p_units, "online_units": o_units, "units": p_units + o_units,
                "pos_gross": str(pos_net), "pos_net": str(pos_net),
                "online_gross": str(online_net), "online_net": str(online_net),
                "net": str(pos_net + online_net)})
            out["product_orders_daily"].append({
                "shop_id": shop, "product_id": product, "date": day,
                "receipts": min((p_units * 3 + 3) // 4, receipts), "online_orders": o_units})
            seen = share * rng.randint(2, 5)
            out["product_engagement_daily"].append({
                "product_id": product, "shop_id": shop, "date": day,
                "surface": rng.choice(list(SOURCE_WEIGHTS)[:3]), "views": seen * 3,
                "visitors": seen, "clicks": seen // 2, "add_to_cart": seen // 6})
    for n, post in enumerate(post_ids):  # each seen for 12 days, spread over the range
        start = n * max(len(days) - 12, 0) // max(posts - 1, 1)
        for day in days[start:start + 12]:
            impressions = rng.randint(300, 2500)
            reach = impressions * rng.randint(50, 80) // 100
            out["post_metric_daily"].append({
                "post_id": post, "shop_id": shop, "date": day, "impressions": impressions,
                "reach": reach, "views": reach * rng.randint(40, 90) // 100,
                "clicks": impressions * rng.randint(1, 6) // 100,
                "likes": reach * rng.randint(2, 9) // 100, "saves": reach // 60,
                "shares": reach // 120, "comments": rng.randint(0, 6)})
    # Revenue against the mean of the 28 days before (days without sales count as 0).
    first = date.fromisoformat(days[0]) if days else date.today()
    for day in days:
        today = date.fromisoformat(day)
        window = [(today - timedelta(days=k)).isoformat() for k in range(1, 29)]
        if (today - first).days < 14:
            continue
        active = [d for d in window if d in by_day]
        baseline = to_cents_half_even(
            sum((Decimal(by_day[d]["net"]) for d in active), Decimal("0")) / 28)
        value = Decimal(by_day[day]["net"])
        change = to_cents_half_even((value - baseline) * 100 / baseline)
        signal = ("drop" if change <= INSIGHT_DROP else "rise" if change >= INSIGHT_RISE
                  else "")
        out["shop_insights_daily"].append({
            "shop_id": shop, "date": day, "metric": "revenue", "value": str(value),
            "baseline": str(baseline), "change_pct": str(change), "baseline_days": 28,
            "active_days": len(active), "signal": signal})
    return out


def write_marts(local_dir: Path, rows: list[dict[str, Any]],
                marts: dict[str, list[dict[str, Any]]] | None = None) -> None:
    """`shop_metric_daily` holding `rows` and every other mart a report reads (`marts`:
    name → rows; a mart not given is created empty), in the embedded warehouse under
    `local_dir`, written by a child process (`python -m bench.dashboard_stack
    write-marts`)."""
    env = {**os.environ, "PLATFORM_LOCAL_DIR": str(local_dir)}
    env.pop("CLICKHOUSE_URL", None)
    payload = json.dumps({"shop_metric_daily": rows, "marts": marts or {}}, default=str)
    subprocess.run([sys.executable, "-m", "bench.dashboard_stack", "write-marts"],
                   input=payload.encode(), env=env, cwd=REPO_ROOT, check=True, timeout=300)


def _write_marts_here(rows: list[dict[str, Any]],
                      marts: dict[str, list[dict[str, Any]]]) -> None:
    from warehouse.client import close_clients, get_client

    db = get_settings().warehouse_database
    client = get_client()
    client.command(f"CREATE DATABASE IF NOT EXISTS `{db}`")
    cols = ["shop_id String", "merchant_id String", "date Date",
            *(f"{c} Decimal(18, 2)" for c in MONEY), *(f"{c} Int64" for c in COUNTS),
            "online_units Int64", "avg_receipt Nullable(Decimal(18, 2))", MARK]
    client.command(f"CREATE OR REPLACE TABLE `{db}`.shop_metric_daily ({', '.join(cols)}) "
                   "ENGINE = MergeTree ORDER BY (shop_id, date)")
    names = ["shop_id", "merchant_id", "date", *MONEY, *COUNTS, "online_units", "avg_receipt"]
    for start in range(0, len(rows), 1000):
        values = ", ".join(
            "(" + ", ".join("NULL" if row.get(n) is None else f"'{row[n]}'" for n in names)
            + ")" for row in rows[start:start + 1000])
        client.command(f"INSERT INTO `{db}`.shop_metric_daily ({', '.join(names)}) "
                       f"VALUES {values}")
    for name, (columns, order_by) in MART_SCHEMAS.items():
        mark = [] if name == "shop_follows_daily" else [MARK]  # as in dbt: no watermark
        client.command(f"CREATE OR REPLACE TABLE `{db}`.`{name}` "
                       f"({', '.join([*columns, *mark])}) ENGINE = MergeTree "
                       f"ORDER BY {order_by}")
        found = marts.get(name) or []
        for start in range(0, len(found), 5000):
            body = "\n".join(json.dumps(r, default=str) for r in found[start:start + 5000])
            client.command(f"INSERT INTO `{db}`.`{name}` FORMAT JSONEachRow {body}")
    close_clients()


# --- the APIs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    core_url: str
    serving_url: str
    dsn: str
    local_dir: Path

    @property
    def dashboard_url(self) -> str:
        return f"{self.serving_url}/dashboard/"


@contextmanager
def dashboard_stack(dsn: str, local_dir: Path, *, core_url: str | None = None
                    ) -> Iterator[Stack]:
    """The core API (unless `core_url` names one already running on `dsn`) and the
    serving API on the warehouse under `local_dir`; the serving API's log is
    `.local/logs/dashboard-serving-api.log`."""
    from bench.loadgen import _stop, _wait_healthy, core_api, free_port

    s = get_settings()
    with _maybe_core(dsn, core_url, core_api) as core:
        port = free_port(s.bind_host)
        env = {**os.environ, "POSTGRES_DSN": dsn, "PLATFORM_LOCAL_DIR": str(local_dir),
               "CORE_API_URL": core, "SERVING_API_PORT": str(port),
               "DASHBOARD_VENDOR_DIR": str(s.dashboard_vendor_dir),
               "PLATFORM_INTERNAL_TOKEN": s.internal_token}
        env.pop("CLICKHOUSE_URL", None)
        log = s.logs_dir / "dashboard-serving-api.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "serving_api.main:app", "--host",
                 s.bind_host, "--port", str(port), "--workers", "1", "--no-access-log",
                 "--log-level", "warning"],
                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        base = f"http://{s.bind_host}:{port}"
        try:
            _wait_healthy(base, proc, timeout=120)
            yield Stack(core, base, dsn, local_dir)
        finally:
            _stop(proc)


@contextmanager
def _maybe_core(dsn: str, core_url: str | None, core_api: Any) -> Iterator[str]:
    if core_url:
        yield core_url
        return
    with core_api(dsn, workers=1) as url:
        yield url


# --- the browser ----------------------------------------------------------------------------


@contextmanager
def chromium(download_dir: Path | None = None, *, width: int = 1440, height: int = 1000
             ) -> Iterator[Any]:
    """Headless Debian Chromium under Selenium (installed by `python -m infra install
    chromium` when missing); a fresh profile, removed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    from infra.services.dashboard import Chromium

    Chromium().install()
    s = get_settings()
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(s.chromium_binary)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if download_dir is not None:
        download_dir.mkdir(parents=True, exist_ok=True)
        options.add_experimental_option("prefs", {
            "download.default_directory": str(download_dir),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False, "intl.accept_languages": "ru-RU,ru"})
    log = s.logs_dir / "dashboard-chromedriver.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # LANGUAGE: Chromium's own locale (date inputs as дд.мм.гггг), as a Bishkek seller's.
    service = DriverService(executable_path=str(s.chromedriver_binary), log_output=str(log),
                            env={**os.environ, "LANGUAGE": "ru_RU:ru", "LANG": "ru_RU.UTF-8"})
    driver = webdriver.Chrome(service=service, options=options)
    try:
        if download_dir is not None:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {
                "behavior": "allow", "downloadPath": str(download_dir)})
        yield driver
    finally:
        driver.quit()
        subprocess.run(["rm", "-rf", profile], check=False)


def wait_for(driver: Any, script: str, timeout: float = 30.0) -> Any:
    """Poll a JS expression (`return ...`) until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            state = driver.execute_script("return document.body && document.body.dataset")
            logs = [e.get("message") for e in driver.get_log("browser")]
            raise TimeoutError(f"waited {timeout}s for: {script}; body {state}; "
                               f"console {logs}")
        time.sleep(0.05)


def sign_in(driver: Any, dashboard_url: str, seller: Seller, *, timeout: float = 30.0) -> None:
    """Open the page, type the seller's email, password and current TOTP code, and wait
    for the dashboard's first render."""
    from selenium.webdriver.common.by import By

    driver.get(dashboard_url)
    wait_for(driver, "return document.body.dataset.state === 'signin'", timeout)
    driver.find_element(By.ID, "email").send_keys(seller.email)
    driver.find_element(By.ID, "password").send_keys(seller.password)
    driver.find_element(By.ID, "totp").send_keys(seller.code())
    driver.find_element(By.ID, "signin-submit").click()
    wait_for(driver, "return document.body.dataset.state === 'ready' || "
                     "!document.getElementById('signin-error').hidden", timeout)
    error = driver.find_element(By.ID, "signin-error")
    if error.is_displayed():
        raise AssertionError(f"sign-in refused: {error.text}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["write-marts"]:
        payload = json.loads(sys.stdin.read())
        if isinstance(payload, list):  # shop_metric_daily alone
            payload = {"shop_metric_daily": payload, "marts": {}}
        _write_marts_here(payload["shop_metric_daily"], payload["marts"])
        return 0
    print("usage: python -m bench.dashboard_stack write-marts < rows.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
