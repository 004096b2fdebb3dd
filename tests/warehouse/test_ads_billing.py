"""Ad billing from the lake on a small known world (integration): ad events written to the
lake with the landing's schema, `dbt build` of the ads models, every figure checked to the
tyiyn against counts made by hand below, then the billing job settles the campaigns' days in
a real core database: ledger charges = billable events × price, capped by the budget, and a
second run (or a rerun of the same watermark) charges nothing again.

Needs MinIO and the cached Spark jars (the `stack` fixture).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from infra.settings import get_settings
from tests.warehouse.lake_fixtures import TestLake
from warehouse.client import get_client
from warehouse.refresh import RefreshResult, run_dbt

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack")]

UTC = dt.UTC
D = Decimal
APP_UA = "Mozilla/5.0 (Linux; Android 14) BazaarApp/2.1"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def _day() -> dt.date:
    from marketplace_core.ads import wallet

    return wallet.today() - dt.timedelta(days=2)


DAY = _day()
NEXT = DAY + dt.timedelta(days=1)
# 12:00 in Bishkek (UTC+6) on DAY
NOON = dt.datetime(DAY.year, DAY.month, DAY.day, 6, 0, tzinfo=UTC)


class Campaign:
    def __init__(self, pricing: str, price: str) -> None:
        self.id = uuid.uuid4()
        self.merchant_id = uuid.uuid4()
        self.shop_id = uuid.uuid4()
        self.pricing = pricing
        self.price = D(price)


def event(c: Campaign, kind: str, at: dt.datetime, slot: uuid.UUID, viewer: str, *,
          served: dt.datetime | None = None, ua: str | None = APP_UA, own: bool = False,
          flag: str | None = None, address: str | None = None) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()), "event_type": kind, "occurred_at": at,
        "served_at": served or at - dt.timedelta(seconds=1), "impression_id": str(slot),
        "campaign_id": str(c.id), "merchant_id": str(c.merchant_id), "shop_id": str(c.shop_id),
        "campaign_type": "search", "placement": "search", "pricing": c.pricing,
        "price": c.price, "target_type": "product", "target_id": str(uuid.uuid4()),
        "position": 2, "viewer_pseudo_id": viewer, "session_id": None,
        "device_hash": f"dev-{viewer}", "address_hash": address or f"addr-{viewer}",
        "user_agent": ua, "own_ad": own, "intake_flag": flag, "experiment_arm": None,
    }


def shown_and_clicked(c: Campaign, at: dt.datetime, viewer: str, **click: Any
                      ) -> list[dict[str, Any]]:
    slot = uuid.uuid4()
    return [event(c, "impression", at, slot, viewer, served=at - dt.timedelta(seconds=1)),
            event(c, "click", at + dt.timedelta(seconds=10), slot, viewer,
                  served=at - dt.timedelta(seconds=1), **click)]


def world(cpc: Campaign, cpm: Campaign, cpm_up: Campaign, fixed: Campaign
          ) -> list[dict[str, Any]]:
    ev: list[dict[str, Any]] = []
    t = NOON
    # cpc: one good click
    ev += shown_and_clicked(cpc, t, "u1")
    # a click 200 ms after the ad was served: too fast for a person
    s2 = uuid.uuid4()
    ev += [event(cpc, "impression", t, s2, "u2", served=t),
           event(cpc, "click", t + dt.timedelta(milliseconds=200), s2, "u2", served=t)]
    # a click whose slot never reported an impression
    ev += [event(cpc, "click", t + dt.timedelta(minutes=1), uuid.uuid4(), "u3")]
    # a robot: both events filtered
    s4 = uuid.uuid4()
    ev += [event(cpc, "impression", t, s4, "u4", ua=BOT_UA),
           event(cpc, "click", t + dt.timedelta(seconds=9), s4, "u4", ua=BOT_UA)]
    # the seller on their own ad
    s5 = uuid.uuid4()
    ev += [event(cpc, "impression", t, s5, "u5", own=True),
           event(cpc, "click", t + dt.timedelta(seconds=9), s5, "u5", own=True)]
    # two clicks of one slot: the second is a duplicate
    s6 = uuid.uuid4()
    ev += [event(cpc, "impression", t, s6, "u6"),
           event(cpc, "click", t + dt.timedelta(seconds=8), s6, "u6"),
           event(cpc, "click", t + dt.timedelta(seconds=13), s6, "u6")]
    # the core already flagged a replayed click
    s7 = uuid.uuid4()
    ev += [event(cpc, "impression", t, s7, "u7"),
           event(cpc, "click", t + dt.timedelta(seconds=8), s7, "u7", flag="duplicate")]
    # one viewer clicks 7 ads in 24 s: the 6th and 7th are a burst
    for k in range(7):
        ev += shown_and_clicked(cpc, t + dt.timedelta(minutes=10, seconds=4 * k), "u8")
    # 21 people behind one address click within 40 s: the 21st is a burst
    for k in range(21):
        ev += shown_and_clicked(cpc, t + dt.timedelta(minutes=20, seconds=2 * k), f"a{k}",
                                address="addr-office")
    # the next Bishkek day (00:30 local = 18:30 UTC the day before)
    ev += shown_and_clicked(cpc, dt.datetime(DAY.year, DAY.month, DAY.day, 18, 30,
                                             tzinfo=UTC), "u9")
    # cpm 33.33: 7 billable impressions and a robot's
    for k in range(7):
        ev += [event(cpm, "impression", t + dt.timedelta(minutes=k), uuid.uuid4(), f"m{k}")]
    ev += [event(cpm, "impression", t, uuid.uuid4(), "mb", ua="curl/8.5.0")]
    # cpm 7.77 x 5 = 0.03885 KGS: rounds half up to 0.04
    for k in range(5):
        ev += [event(cpm_up, "impression", t + dt.timedelta(minutes=k), uuid.uuid4(), f"r{k}")]
    # fixed 500 a day: two impressions on DAY; only a robot's on NEXT
    for k in range(2):
        ev += [event(fixed, "impression", t + dt.timedelta(minutes=k), uuid.uuid4(), f"f{k}")]
    ev += [event(fixed, "impression", dt.datetime(DAY.year, DAY.month, DAY.day, 20, 0,
                                                  tzinfo=UTC), uuid.uuid4(), "fb", ua=None)]
    return ev


@pytest.fixture(scope="module")
def core_dsn(make_database: Any) -> str:
    from marketplace_core.migrate import apply_migrations

    dsn: str = make_database()
    apply_migrations(dsn)
    return dsn


@pytest.fixture(scope="module")
def campaigns_in_core(core_dsn: str) -> dict[str, Campaign]:
    """Four running campaigns in a real core (active since the day before DAY), funded."""
    from marketplace_core.accounts import service as accounts
    from marketplace_core.accounts.principal import AuthenticatedUser
    from marketplace_core.ads import campaigns, wallet
    from marketplace_core.catalog import service as catalog
    from marketplace_core.subscriptions import service as subscriptions

    bishkek = wallet.bishkek()
    since = dt.datetime.combine(DAY - dt.timedelta(days=1), dt.time(9), tzinfo=bishkek)
    out = {"cpc": Campaign("cpc", "12.50"), "cpm": Campaign("cpm", "33.33"),
           "cpm_up": Campaign("cpm", "7.77"), "fixed": Campaign("fixed_daily", "500.00")}
    with psycopg.connect(core_dsn) as conn:
        reg = accounts.register_user(conn, email=f"adm-{secrets.token_hex(4)}@test.example.kg",
                                     password="correct horse battery staple",
                                     full_name="Admin", role="admin", password_rounds=4)
        admin = AuthenticatedUser(reg.user.id, "admin")
        merchant = catalog.create_merchant(conn, f"M {secrets.token_hex(4)}").id
        shop = catalog.create_shop(conn, merchant, f"S {secrets.token_hex(4)}",
                                   address="Osh bazaar").id
        subscriptions.change_plan(conn, merchant, "PRO", now=since)
        t = wallet.start_topup(conn, admin, merchant, D("5000.00"), now=since)
        wallet.process_topup_event(conn, t.provider, t.psp_payment_id, "payment.succeeded",
                                   t.amount, None, D("0.00"), now=since)
        product = catalog.create_product(conn, shop, "Кроссовки").id
        for c in out.values():
            made = campaigns.create_campaign(conn, admin, campaigns.CampaignInput(
                shop_id=shop, name=f"Кампания {c.pricing}", type="search",
                pricing=c.pricing, bid=c.price if c.price >= D("1.00") else D("1.00"),
                daily_budget=D("300.00") if c.pricing == "cpc" else D("600.00"),
                total_budget=D("2000.00"), start_date=DAY - dt.timedelta(days=1),
                end_date=DAY + dt.timedelta(days=30),
                creative=campaigns.CreativeInput(product_ids=[product])), now=since)
            campaigns.act(conn, admin, made.id, "submit", now=since)
            campaigns.act(conn, admin, made.id, "approve", now=since)
            c.id, c.merchant_id, c.shop_id = made.id, merchant, shop
        conn.commit()
    return out


@pytest.fixture(scope="module")
def built(spark: Any, lake_prefix: str, warehouse_env: Path,
          campaigns_in_core: dict[str, Campaign]) -> Iterator[dict[str, Campaign]]:
    c = campaigns_in_core
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_PREFIX", lake_prefix)
        get_settings.cache_clear()
        lake = TestLake(spark)
        lake.create_all_empty()
        lake.write("ads_events", world(c["cpc"], c["cpm"], c["cpm_up"], c["fixed"]),
                   ingested_at=NOON + dt.timedelta(hours=8))
        result = run_dbt(["build", "--select", "+ad_event_daily", "+ad_invalid_traffic_daily"])
        assert_ok(result)
        yield c
    get_settings.cache_clear()


def assert_ok(result: RefreshResult) -> None:
    bad = [(n.name, n.status, n.message) for n in result.failed]
    assert result.success, (result.error, bad)


def query(sql: str) -> list[tuple[Any, ...]]:
    db = get_settings().warehouse_database
    return [tuple(r) for r in get_client().query(sql.replace("$db", f"`{db}`")).result_rows]


def daily(c: Campaign) -> dict[dt.date, tuple[Any, ...]]:
    rows = query("SELECT date, impressions, clicks, billable_impressions, billable_clicks,"
                 " invalid_impressions, invalid_clicks, spend, cpc, cpm FROM $db.ad_event_daily"
                 f" WHERE campaign_id = '{c.id}'")
    return {r[0]: r[1:] for r in rows}


def test_ad_event_daily_counts_and_prices_every_event_exactly(built: dict[str, Campaign]
                                                              ) -> None:
    cpc = daily(built["cpc"])
    # DAY: 34 impressions (2 invalid: a robot, the seller's own), 36 clicks of which 27
    # billable (u1, u6's first, u8's first five, the office's first twenty) x 12.50
    assert cpc[DAY] == (34, 36, 32, 27, 2, 9, D("337.50"), D("12.50"),
                        D("10546.88"))  # 337.50 / 32 * 1000 = 10546.875 -> half up
    assert cpc[NEXT] == (1, 1, 1, 1, 0, 0, D("12.50"), D("12.50"), D("12500.00"))
    # 7 x 33.33 / 1000 = 0.23331 -> 0.23; CPM from the rounded spend: 230 / 7 = 32.857...
    assert daily(built["cpm"])[DAY] == (8, 0, 7, 0, 1, 0, D("0.23"), None, D("32.86"))
    assert daily(built["cpm_up"])[DAY] == (5, 0, 5, 0, 0, 0, D("0.04"), None, D("8.00"))
    fixed = daily(built["fixed"])
    assert fixed[DAY] == (2, 0, 2, 0, 0, 0, D("500.00"), None, D("250000.00"))
    assert fixed[NEXT][:7] == (1, 0, 0, 0, 1, 0, D("0.00"))


def test_filtered_traffic_is_reported_by_reason(built: dict[str, Campaign]) -> None:
    rows = query("SELECT event_type, reason, events, value_not_billed"
                 " FROM $db.ad_invalid_traffic_daily"
                 f" WHERE campaign_id = '{built['cpc'].id}' AND date = '{DAY}'")
    assert sorted(rows) == sorted([
        ("click", "too_fast", 1, D("12.50")),
        ("click", "click_without_impression", 1, D("12.50")),
        ("impression", "known_bot", 1, D("0.00")),
        ("click", "known_bot", 1, D("12.50")),
        ("impression", "own_ad", 1, D("0.00")),
        ("click", "own_ad", 1, D("12.50")),
        ("click", "duplicate", 2, D("25.00")),
        ("click", "burst_user", 2, D("25.00")),
        ("click", "burst_address", 1, D("12.50")),
    ])
    cpm = query("SELECT event_type, reason, events, value_not_billed"
                " FROM $db.ad_invalid_traffic_daily"
                f" WHERE campaign_id = '{built['cpm'].id}'")
    assert cpm == [("impression", "known_bot", 1, D("0.03"))]


def test_billing_settles_each_day_once_capped_by_the_budget(
        built: dict[str, Campaign], core_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from marketplace_core.ads import billing
    from marketplace_core.payments import ledger
    from orchestration.defs.ads.billing import OwedDay, bill

    monkeypatch.setenv("POSTGRES_DSN", core_dsn)
    get_settings.cache_clear()
    rows = query("SELECT campaign_id, date, spend, _ingested_through FROM $db.ad_event_daily")
    owed = [OwedDay(r[0], r[1], r[2]) for r in rows]
    through = max(r[3] for r in rows).replace(tzinfo=UTC)
    first = bill(owed, through)
    assert first.outcomes == {"charged": 5, "unchanged": 1}  # fixed on NEXT owes 0.00
    # the cpc day asked 337.50 and was capped at its daily budget of 300.00
    assert first.charged == D("300.00") + D("12.50") + D("0.23") + D("0.04") + D("500.00")
    again = bill(owed, through)
    assert again.outcomes == {"replayed": 5, "unchanged": 1} and again.charged == 0
    later = bill(owed, through + dt.timedelta(minutes=5))
    assert later.outcomes == {"unchanged": 6} and later.charged == 0

    with psycopg.connect(core_dsn) as conn:
        c = built["cpc"]
        charges = billing.charges_of(conn, c.id)
        assert [(ch.day, ch.requested, ch.charged, ch.capped_by) for ch in charges] == [
            (DAY, D("337.50"), D("300.00"), "daily_budget"),
            (NEXT, D("12.50"), D("12.50"), None)]
        for name, spend in (("cpm", D("0.23")), ("cpm_up", D("0.04")),
                            ("fixed", D("500.00"))):
            got = billing.charges_of(conn, built[name].id)
            assert [(ch.day, ch.charged) for ch in got] == [(DAY, spend)], name
        assert ledger.unbalanced_entries(conn) == []


KILL_RUN = """
import json, sys, datetime as dt
from decimal import Decimal
from uuid import UUID
from orchestration.defs.ads.billing import OwedDay, bill
data = json.load(sys.stdin)
rows = [OwedDay(UUID(r[0]), dt.date.fromisoformat(r[1]), Decimal(r[2])) for r in data["rows"]]
print(json.dumps(bill(rows, dt.datetime.fromisoformat(data["through"])).summary()))
"""


def test_a_billing_run_killed_midway_and_rerun_charges_each_day_once(
        built: dict[str, Campaign], core_dsn: str) -> None:
    """A new watermark over the same lake, a billing process SIGKILLed while it waits for
    the second campaign (held by a lock here), then a complete run: every campaign-day is
    charged exactly what the lake says, once."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from infra.settings import REPO_ROOT
    from marketplace_core.ads import billing

    # more spend for every day: the lake found 2 more billable clicks per cpc day
    rows = query("SELECT campaign_id, date, spend FROM $db.ad_event_daily ORDER BY date,"
                 " campaign_id")
    raised = [(str(r[0]), r[1].isoformat(), str(r[2] + D("25.00"))) for r in rows]
    through = (NOON + dt.timedelta(hours=9)).isoformat()
    order = sorted({(r[1], r[0]) for r in raised})
    second = order[1][1]
    env = {**os.environ, "POSTGRES_DSN": core_dsn}
    with psycopg.connect(core_dsn) as holder:
        holder.execute("select 1 from ad_campaigns where id = %s for update", (second,))
        proc = subprocess.Popen([sys.executable, "-c", KILL_RUN], cwd=REPO_ROOT, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"rows": raised, "through": through}))
        proc.stdin.close()
        deadline = time.monotonic() + 60
        with psycopg.connect(core_dsn, autocommit=True) as watch:
            while watch.execute("select count(*) from ad_billing_windows where through = %s",
                                (through,)).fetchone() == (0,):
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
        time.sleep(0.5)  # now blocked on the held campaign
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        holder.rollback()
    with psycopg.connect(core_dsn, autocommit=True) as conn:
        done = conn.execute("select count(*) from ad_billing_windows where through = %s",
                            (through,)).fetchone()
        assert done == (1,)
    rerun = subprocess.run([sys.executable, "-c", KILL_RUN], cwd=REPO_ROOT, env=env,
                           input=json.dumps({"rows": raised, "through": through}),
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    outcomes = json.loads(rerun.stdout.strip().splitlines()[-1])["outcomes"]
    assert outcomes.get("replayed") == 1 and outcomes.get("charged") == len(raised) - 1
    with psycopg.connect(core_dsn) as conn:
        for campaign_id, day, owed in raised:
            assert billing.settled_owed(conn, UUID(campaign_id), dt.date.fromisoformat(day)
                                        )[0] == D(owed)
        # the cpc DAY stays at its daily budget: the extra 25.00 is never charged
        cpc = {ch.day: ch for ch in billing.charges_of(conn, built["cpc"].id)}
        assert sum(ch.charged - ch.credited for ch in billing.charges_of(conn, built["cpc"].id)
                   if ch.day == DAY) == D("300.00")
        assert NEXT in cpc
        fixed_next = [ch for ch in billing.charges_of(conn, built["fixed"].id)
                      if ch.day == NEXT]
        assert [ch.charged for ch in fixed_next] == [D("25.00")]
