"""The ads part of `make demo`: a shop boosts a post, guests see it in Explore with its
«Реклама» label and the apps report impressions and clicks; after the lake refresh (which
lands `ads.events`, builds `ad_event_daily` and runs the `ad_billing` asset) the seller's
campaign report and its wallet statement show the same spend.

The campaign is made through the core's own functions (like the social seed); the traffic
goes through the running core API (`GET /feed/explore`, `POST /ads/events`, `GET
/ads/click/{token}`), as apps send it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from rich.console import Console
from rich.table import Table

from infra.settings import get_settings
from marketplace_core.db import transaction

APP_UA = "Mozilla/5.0 (Linux; Android 14) BazaarApp/2.1"
BID = Decimal("12.00")
CAMPAIGN_NAME = "Демо: продвижение публикации"


@dataclass(frozen=True)
class AdDemo:
    campaign_id: UUID
    post_id: UUID
    shop_id: UUID
    impressions: int
    clicks: int
    robot_events: int


def start_campaign(shop_id: UUID, post_id: UUID) -> UUID:
    """A CPC boost of the post, on PRO, funded (top-up confirmed by the PSP), approved."""
    from datetime import timedelta

    from marketplace_core.accounts import service as accounts
    from marketplace_core.accounts.principal import AuthenticatedUser
    from marketplace_core.ads import campaigns, wallet
    from marketplace_core.catalog import service as catalog
    from marketplace_core.errors import DomainError
    from marketplace_core.subscriptions import service as subscriptions

    with transaction() as conn:
        admin = accounts.register_user(
            conn, email=f"demo-admin-{secrets.token_hex(4)}@bazaar.kg",
            password=secrets.token_urlsafe(16), full_name="Ads moderator", role="admin",
            password_rounds=4).user
        actor = AuthenticatedUser(admin.id, "admin")
        shop = catalog.get_shop(conn, shop_id)
        assert shop is not None
        try:  # a second demo run finds the merchant on PRO already
            with conn.transaction():
                subscriptions.change_plan(conn, shop.merchant_id, "PRO")
        except DomainError as exc:
            if exc.code != "ALREADY_ON_PLAN":
                raise
        t = wallet.start_topup(conn, actor, shop.merchant_id, Decimal("3000.00"))
        wallet.process_topup_event(conn, t.provider, t.psp_payment_id, "payment.succeeded",
                                   t.amount, None, Decimal("0.00"))
        # an earlier demo run's boosts would compete for the same slots: end them
        for earlier in campaigns.list_campaigns(conn, actor, status="active", limit=500):
            if earlier.name == CAMPAIGN_NAME:
                campaigns.act(conn, actor, earlier.id, "end")
        today = wallet.today()
        c = campaigns.create_campaign(conn, actor, campaigns.CampaignInput(
            shop_id=shop_id, name=CAMPAIGN_NAME, type="boost",
            pricing="cpc", bid=BID, daily_budget=Decimal("600.00"),
            total_budget=Decimal("2000.00"), start_date=today,
            end_date=today + timedelta(days=7),
            creative=campaigns.CreativeInput(post_id=post_id)))
        campaigns.act(conn, actor, c.id, "submit")
        campaigns.act(conn, actor, c.id, "approve")
        return c.id


# A short page: a boost is never repeated on a page that already holds its post, so the
# demo boosts an older post and reads pages it is not on organically.
PAGE = 4


def _served(client: httpx.Client, headers: dict[str, str], post_id: UUID
            ) -> dict[str, Any] | None:
    r = client.get("/feed/explore", params={"limit": PAGE}, headers=headers)
    r.raise_for_status()
    for item in r.json()["items"]:
        if item.get("ad") and item["id"] == str(post_id):
            return dict(item["ad"])
    return None


def send_traffic(campaign_id: UUID, post_id: UUID, shop_id: UUID, *, guests: int = 40,
                 click_every: int = 4) -> AdDemo:
    """Guests open Explore; their apps report the ad's impressions and some clicks; one
    robot does the same (filtered in the lake, never billed)."""
    s = get_settings()
    impressions = clicks = robot = 0
    with httpx.Client(base_url=s.core_api_url, timeout=30) as client:
        first = {"User-Agent": APP_UA, "X-Session-Id": "demo-" + secrets.token_hex(6)}
        deadline = time.monotonic() + 60  # the API reloads its campaigns every few seconds
        while _served(client, first, post_id) is None:
            if time.monotonic() > deadline:
                raise SystemExit("the boosted post never appeared in Explore")
            time.sleep(1)
        shown: list[tuple[dict[str, str], dict[str, Any]]] = []
        n = 0
        for _ in range(guests * 5):
            if impressions >= guests:
                break
            headers = {"User-Agent": APP_UA, "X-Session-Id": f"demo-{secrets.token_hex(6)}"}
            ad = _served(client, headers, post_id)
            if ad is None:  # the post is on this guest's page organically (or paced)
                continue
            n += 1
            r = client.post("/ads/events", headers=headers,
                            json={"events": [{"token": ad["token"], "type": "impression"}]})
            r.raise_for_status()
            impressions += 1
            if n % click_every == 0:
                shown.append((headers, ad))
        bot_ad = None
        for _ in range(20):
            bot = {"User-Agent": "curl/8.5.0", "X-Session-Id": "bot-" + secrets.token_hex(4)}
            bot_ad = _served(client, bot, post_id)
            if bot_ad is not None:
                break
        time.sleep(1.0)  # people click a moment after the ad appears
        for headers, ad in shown:
            r = client.get(ad["click_url"], headers=headers)  # 303 to the post
            if r.status_code != 303:
                r.raise_for_status()
            clicks += 1
        if bot_ad is not None:
            client.post("/ads/events", headers=bot, json={"events": [
                {"token": bot_ad["token"], "type": "impression"}]}).raise_for_status()
            client.get(bot_ad["click_url"], headers=bot)
            robot = 2
    return AdDemo(campaign_id, post_id, shop_id, impressions, clicks, robot)


def print_ads(console: Console, demo: AdDemo, seller_token: str, day: str) -> None:
    """Explore with the label, the campaign report and the wallet statement."""
    s = get_settings()
    auth = {"Authorization": f"Bearer {seller_token}"}
    with httpx.Client(base_url=s.core_api_url, timeout=30) as core:
        for n in range(20):  # a guest whose page carries the ad
            page = core.get("/feed/explore", params={"limit": PAGE}, headers={
                "User-Agent": APP_UA, "X-Session-Id": f"demo-print-{n}"}).json()
            if any(i.get("ad") for i in page["items"]):
                break
        table = Table(title="Explore as a guest sees it (ads carry their label)")
        for col in ("#", "post", "label", "click"):
            table.add_column(col)
        for i, item in enumerate(page["items"]):
            ad = item.get("ad")
            table.add_row(str(i), item["id"][:8], ad["label"] if ad else "",
                          ad["click_url"][:40] + "…" if ad else "",
                          style="bold yellow" if ad else None)
        console.print(table)
        statement = core.get("/ads/wallet/statement", params={"month": day[:7]},
                             headers=auth).raise_for_status().json()
    report = httpx.get(f"{s.serving_api_url}/analytics/shops/{demo.shop_id}/ads",
                       params={"from": day, "to": day}, headers=auth, timeout=30
                       ).raise_for_status().json()
    rows = [r for r in report["rows"] if r["campaign_id"] == str(demo.campaign_id)]
    table = Table(title="Campaign report (serving API, from ad_event_daily), KGS")
    for col in ("impressions", "billable", "clicks", "billable clicks", "filtered",
                "spend", "CTR %", "CPC"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["impressions"]), str(r["billable_impressions"]), str(r["clicks"]),
                      str(r["billable_clicks"]),
                      str(r["invalid_impressions"] + r["invalid_clicks"]), r["spend"],
                      str(r["ctr"]), str(r["cpc"]))
    console.print(table)
    # the wallet also pays the shop's earlier campaigns (earlier demos): this campaign's
    # charges and credits are the lines whose memo names it
    ours = [line for line in statement["lines"]
            if line["kind"] in ("ad_charge", "ad_credit")
            and str(demo.campaign_id) in (line["memo"] or "")]
    charged = sum((-Decimal(line["amount"]) for line in ours), Decimal("0.00"))
    console.print(f"    wallet statement {statement['month']}: opening "
                  f"{statement['opening_balance']}, {len(ours)} line(s) for this campaign "
                  f"{charged} KGS, closing {statement['closing_balance']}")
    spend = Decimal(rows[0]["spend"]) if rows else Decimal("0.00")
    verdict = "agree" if charged == spend else "DIFFER"
    console.print(f"    campaign spend {spend} KGS and wallet charges {charged} KGS {verdict} "
                  f"({demo.clicks} clicks sent × {BID}; the robot's "
                  f"{demo.robot_events} events filtered, never billed)")
