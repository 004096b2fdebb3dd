"""`make demo`: seed a small Bishkek marketplace, ring up POS sales, land and build them
through Dagster, and print one seller's report from the serving API: the till's gross,
discounts, refunds, voids and net, receipts, units, the average receipt, the online orders,
and the shop's net revenue including online (`shop_metric_daily`)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
from rich.console import Console
from rich.table import Table

from infra.settings import get_settings
from marketplace_core.db import transaction
from marketplace_core.migrate import apply_migrations
from marketplace_core.seed import seed_demo_marketplace
from orchestration.definitions import defs
from orchestration.demo_ads import print_ads, send_traffic, start_campaign
from orchestration.demo_pos import ring_up_demo_sales
from orchestration.demo_social import SocialWorld, explore_page, post_metrics, seed_social

console = Console(width=None if sys.stdout.isatty() else 160)

# (report field, column title); money fields are decimal strings, the rest counts.
REPORT_COLUMNS = (
    ("pos_gross", "till gross"), ("pos_discounts", "discounts"), ("pos_refunds", "refunds"),
    ("pos_voids", "voids"), ("pos_net", "till net"), ("receipts", "receipts"),
    ("units", "units"), ("avg_receipt", "avg receipt"), ("online_orders", "online orders"),
    ("online_net", "online net"), ("net", "net revenue"),
)


def wait_applied(sale_ids: list[UUID], timeout: float = 180.0) -> int:
    """Wait until the POS ingest applied the receipts and the outbox relay published the
    core's events (core.pos_receipts): the lake lands what the core accepted."""
    from marketplace_core.outbox.relay import backlog

    deadline = time.monotonic() + timeout
    while True:
        with transaction() as conn:
            row = conn.execute("select count(*) from pos_receipts where sale_id = any(%s)",
                               (sale_ids,)).fetchone()
        applied = int(row[0]) if row else 0
        if applied >= len(sale_ids) and backlog()[0] == 0:
            return applied
        if time.monotonic() > deadline:
            raise SystemExit(f"only {applied} of {len(sale_ids)} receipts applied (is the "
                             "pos-ingest service up? `make status`)")
        time.sleep(1)


def ring_up_returns(summary: Any, sales: list[Any], shop_id: UUID) -> list[UUID]:
    """At one shop's till: a customer returns one item of a receipt, the cashier voids
    another receipt, and gives a standalone discount. Returns the events' sale ids."""
    from marketplace_core.pos.credentials import issue_credentials
    from pos_producer.config import DeviceConfig
    from pos_producer.terminal import Terminal

    device = next(d for d in summary.devices if d.shop_id == shop_id)
    with transaction() as conn:
        creds = issue_credentials(conn, device.id)
    cfg = DeviceConfig(device_id=device.id, shop_id=shop_id, token=creds.token,
                       secret=creds.secret)
    mine = [x for x in sales if x.shop_id == shop_id]
    with Terminal(cfg) as till:
        refunded, voided = mine[0], mine[1]
        line = refunded.items[0]
        numbers = [till.refund(refunded.receipt_number, [replace(line, qty=1)]),
                   till.void(voided.receipt_number),
                   till.discount(Decimal("25.00"))]
        if till.flush(60):
            raise SystemExit(f"{device.id}: returns not delivered")
        recorded = [till.recorded(n) for n in numbers]
    return [r.sale_id for r in recorded if r is not None]


def sell_online(summary: Any, shop_id: UUID, orders_count: int = 3) -> int:
    """Buyers order online at the shop (its terminal was just heard from, so it sells
    online), pay through the PSP simulator (signed webhook), and one order is refunded."""
    import secrets

    from marketplace_core.accounts import service as accounts
    from marketplace_core.accounts.principal import AuthenticatedUser
    from marketplace_core.catalog import service as catalog
    from marketplace_core.orders import service as orders
    from marketplace_core.payments import refunds, service, simulator
    from marketplace_core.payments.webhooks import receive_psp_webhook, sign
    from marketplace_core.pos import service as pos

    device = next(d for d in summary.devices if d.shop_id == shop_id)
    variant = next(s.variants[0] for s in summary.shops if s.id == shop_id)
    paid = []
    with transaction() as conn:
        # demo runs repeat on the same seeded shops: the seller recounts the shelf first
        current = next(v for v in catalog.list_variants_for_shop(conn, shop_id)
                       if v.id == variant.id)
        if current.stock_qty < orders_count:
            catalog.set_variant_stock(conn, variant.id, current.stock_qty + 20)
        pos.record_heartbeat(conn, device.id)
        admin = accounts.register_user(
            conn, email=f"demo-admin-{secrets.token_hex(4)}@bazaar.kg",
            password=secrets.token_urlsafe(16), full_name="Demo admin", role="admin",
            password_rounds=4).user
    for n in range(orders_count):
        with transaction() as conn:
            buyer = accounts.register_user(
                conn, email=f"demo-buyer-{secrets.token_hex(4)}@bazaar.kg",
                password=secrets.token_urlsafe(16), full_name=f"Buyer {n}", role="buyer",
                password_rounds=4).user
            order = orders.place_order(conn, buyer.id, orders.OrderRequest.of(
                shop_id, [(variant.id, 1)], "delivery",
                delivery_address="Bishkek, Chui avenue 1")).order
            payment = service.start_payment(conn, order.id,
                                            AuthenticatedUser(buyer.id, "buyer")).payment
            body = simulator.webhook_body(
                simulator.buyer_completes(conn, payment.psp_payment_id, "paid"))
            receive_psp_webhook(conn, body, sign(body))
            paid.append(order.id)
    with transaction() as conn:
        refunds.request_refund(conn, paid[0], AuthenticatedUser(admin.id, "admin"))
    return len(paid)


@dataclass(frozen=True)
class SellerSignIn:
    email: str
    password: str
    totp_secret: str
    access_token: str


def demo_seller(shop_id: UUID) -> SellerSignIn:
    """A seller who owns the shop's merchant, with 2FA on, logged in: the serving API shows
    a seller only the shops of their merchants, so the report is read as this seller."""
    import secrets

    from marketplace_core.accounts import ownership, service, totp
    from marketplace_core.catalog.service import get_shop

    email = f"demo-seller-{secrets.token_hex(4)}@bazaar.kg"
    password = secrets.token_urlsafe(12)
    with transaction() as conn:
        shop = get_shop(conn, shop_id)
        assert shop is not None
        reg = service.register_user(conn, email=email, password=password,
                                    full_name="Demo seller", role="seller", password_rounds=4)
        assert reg.totp is not None
        ownership.add_merchant_member(conn, shop.merchant_id, reg.user.id)
        # The previous 30 s step's code: the one an authenticator shows now stays unused,
        # so the printed sign-in works in the dashboard at once (a code counts only once).
        pair = service.confirm_totp(conn, email, password, totp.current_code(
            reg.totp.secret, at=time.time() - totp.INTERVAL))
    return SellerSignIn(email, password, reg.totp.secret, pair.access_token)


def print_explore(social: SocialWorld) -> None:
    """Explore as the core serves it (ranked in the lake), and the top post's metrics."""
    names = {post_id: name for post_id, _, name in social.posts}
    age = {post_id: n for n, (post_id, _, _) in enumerate(social.posts)}
    table = Table(title="Explore (GET /feed/explore?explain=1): order from the lake's ranking")
    for col in ("#", "shop", "made (1 = first)", "likes", "score", "engagement", "freshness",
                "ctr", "seller quality"):
        table.add_column(col, justify="right")
    deadline = time.monotonic() + 60  # each API process reloads its ranking snapshot
    page = explore_page()               # within seconds of the new one being written
    while (not any("engagement" in (p.get("score_parts") or {}) for p in page)
           and time.monotonic() < deadline):
        time.sleep(2)
        page = explore_page()
    for rank, post in enumerate(page, 1):
        parts = post.get("score_parts") or {}
        pid = UUID(post["id"])
        table.add_row(str(rank), names.get(pid, "(earlier run)"),
                      str(age[pid] + 1) if pid in age else "—", str(post["like_count"]),
                      f"{post['score']:.3f}" if post.get("score") is not None else "—",
                      *(f"{parts[k]:.3f}" if k in parts else "—"
                        for k in ("engagement", "freshness", "ctr", "seller_quality")))
    console.print(table)
    if not page:
        return
    top = UUID(page[0]["id"])
    rows = post_metrics(top)
    metrics = Table(title=f"post_metric_daily for the top post {str(top)[:8]}")
    for col in ("date", "impressions", "reach", "clicks", "likes", "saves", "shares",
                "comments", "ER", "CTR"):
        metrics.add_column(col, justify="right")
    for row in rows:
        metrics.add_row(row["date"], *(str(row[k]) for k in (
            "impressions", "reach", "clicks", "likes", "saves", "shares", "comments")),
            *(f"{row[k]:.3f}" if row[k] is not None else "—"
              for k in ("engagement_rate", "ctr")))
    console.print(metrics)


def main() -> None:
    s = get_settings()
    t0 = time.monotonic()
    console.rule("[bold]Bishkek marketplace: POS sale → seller report, posts → Explore")
    console.print("[cyan]1/6[/] seeding shops, products and terminals in PostgreSQL")
    apply_migrations()
    with transaction() as conn:
        summary = seed_demo_marketplace(conn)
    console.print(f"    {len(summary.shops)} shops, {len(summary.devices)} POS terminals")

    console.print("[cyan]2/6[/] ringing up 300 receipts on the terminals → Kafka (Avro)")
    # Each terminal records its receipts in its SQLite outbox, then delivers them.
    sales = ring_up_demo_sales(summary, count=300, seed=int(time.time()))

    shop = max(summary.shops, key=lambda sh: sum(1 for x in sales if x.shop_id == sh.id))
    adjusted = ring_up_returns(summary, sales, shop.id)
    console.print(f"    and at {shop.name}: a refund, a void and a standalone discount")
    online = sell_online(summary, shop.id)
    console.print(f"    {online} online orders paid through the PSP simulator, one refunded")

    console.print("[cyan]3/6[/] shops post, buyers like, save, share, comment, follow and "
                  "write to shops; the apps send views, taps and routes (POST /events)")
    social = seed_social(summary, seed=int(time.time()))
    console.print(f"    {len(social.posts)} posts, {social.buyers} buyers, {social.reactions} "
                  f"reactions, {social.comments} comments, {social.chats} chats opened, "
                  f"{social.events} behavioural events")

    boosted = next(p for p, sh, _ in social.posts if sh == shop.id)  # its oldest post
    campaign = start_campaign(shop.id, boosted)
    ads = send_traffic(campaign, boosted, shop.id)
    console.print(f"    {shop.name} boosts a post (CPC, funded wallet): {ads.impressions} "
                  f"impressions and {ads.clicks} clicks reported by the apps, and a robot's "
                  f"{ads.robot_events} events (ads.events)")

    console.print("[cyan]4/6[/] the core applies them (POS ingest) and publishes "
                  "core.pos_receipts (outbox relay)")
    applied = wait_applied([x.sale_id for x in sales] + adjusted)
    console.print(f"    {applied} receipts applied")

    console.print("[cyan]5/6[/] Dagster: land Kafka → Delta (Spark), dbt build (ClickHouse), "
                  "Explore's ranking written back to the core, ad campaigns billed")
    job = defs.resolve_job_def("lake_refresh")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    if not result.success:
        raise SystemExit("the refresh job failed; see the log above")

    console.print("[cyan]6/6[/] the seller's report from the serving API, Explore and a post's "
                  "metrics")
    today = dt.datetime.now(ZoneInfo(s.timezone)).date()  # business days are local
    url = f"{s.serving_api_url}/analytics/shops/{shop.id}/sales"
    params = {"from": str(today - dt.timedelta(days=3)), "to": str(today + dt.timedelta(days=1))}
    seller = demo_seller(shop.id)
    auth = {"Authorization": f"Bearer {seller.access_token}"}
    report = httpx.get(url, params=params, headers=auth, timeout=30).raise_for_status().json()
    table = Table(title=f"{shop.name} ({shop.market}) — daily sales, till and online, KGS")
    table.add_column("date", justify="right")
    for _, title in REPORT_COLUMNS:
        table.add_column(title, justify="right")

    def cells(figures: dict[str, object]) -> list[str]:
        return ["—" if figures[k] is None else str(figures[k]) for k, _ in REPORT_COLUMNS]

    for d in report["rows"]:
        table.add_row(d["date"], *cells(d))
    table.add_row("total", *cells(report["totals"]), style="bold")
    console.print(table)
    sent = sum((x.total or Decimal("0.00") for x in sales if x.shop_id == shop.id),
               Decimal("0.00"))
    console.print(f"    sent to this shop in this run: {sent} KGS "
                  "(the report also counts earlier runs)")
    print_explore(social)
    console.rule("[bold]ads: a boosted post, billed from the lake")
    print_ads(console, ads, seller.access_token, str(today))
    console.rule(f"done in {time.monotonic() - t0:.0f}s")
    console.print(f"  report JSON   {url}?from={params['from']}&to={params['to']}")
    console.print(f"  report CSV    {url}?from={params['from']}&to={params['to']}&format=csv")
    console.print("  the report needs the shop's seller: sign in with "
                  f"{seller.email} / {seller.password}, TOTP secret {seller.totp_secret}")
    console.print(f"    token: curl -s {s.core_api_url}/auth/login -H 'Content-Type: "
                  f"application/json' -d '{{\"email\": \"{seller.email}\", \"password\": "
                  f"\"{seller.password}\", \"totp_code\": \"<code>\"}}'  (code: "
                  f"python -c \"import pyotp; print(pyotp.TOTP('{seller.totp_secret}').now())\")")
    console.print("    then:  curl -H 'Authorization: Bearer <access_token>' "
                  f"'{url}?from={params['from']}&to={params['to']}'")
    console.print(f"  API docs      {s.serving_api_url}/docs")
    console.print(f"  core API docs {s.core_api_url}/docs  (buyers, sellers, POS terminals)")
    console.print(f"  Explore       {s.core_api_url}/feed/explore?explain=1")
    console.print(f"  Dagster       http://{s.bind_host}:{s.dagster_port}")
    console.print(f"  MinIO console http://{s.bind_host}:{s.minio_console_port}"
                  f"  (user {s.s3_access_key})")
    console.print(f"  Registry      {s.schema_registry_url}/subjects")
    console.rule("[bold]seller dashboard")
    page = httpx.get(s.dashboard_url, timeout=10)
    charts = httpx.get(f"{s.dashboard_url}vendor/chart.umd.min.js", timeout=10)
    if page.status_code != 200 or charts.status_code != 200:
        console.print(f"  [red]the dashboard answers HTTP {page.status_code}, its charts "
                      f"HTTP {charts.status_code}[/] (python -m infra install dashboard-assets)")
    console.print(f"  Dashboard     {s.dashboard_url}  ({shop.name}, Chromium or any browser)")
    console.print(f"  sign in as    {seller.email}")
    console.print(f"  password      {seller.password}")
    console.print(f"  TOTP secret   {seller.totp_secret}  (add it to an authenticator, or: "
                  f"python -c \"import pyotp; print(pyotp.TOTP('{seller.totp_secret}').now())\")")
    _notification_scene()


def _notification_scene() -> None:
    """A terminal goes silent; its seller's pos_offline e-mail lands in Mailpit."""
    from marketplace_core.notifications.demo import pos_offline_scene

    try:
        scene = pos_offline_scene()
    except Exception as exc:  # the rest of the demo stands; say what is missing
        console.print(f"  [red]notifications: {exc}[/]")
        return
    console.print(f"  POS offline   {scene.device_id} of «{scene.shop_name}» went silent: "
                  f"{scene.seller_email} got «{scene.subject}»")
    console.print(f"  Mailbox       {scene.mailbox_url}  (Mailpit: every e-mail the "
                  f"platform sent)")


if __name__ == "__main__":
    main()
