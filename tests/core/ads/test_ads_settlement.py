"""Settling a campaign's day from the lake (billing.settle): each window charges the rise
or credits the fall of what the day owes, exactly once, capped by the budgets, and a day
the campaign never served is never billed."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg

from marketplace_core.ads import billing, campaigns, wallet
from marketplace_core.payments import ledger
from tests.core.ads.test_ads_wallet import _admin, _at, _committed, _merchant, _running, _topup

D = Decimal


def test_windows_follow_the_lake_exactly_once(conn: Any) -> None:
    d0 = wallet.today() - timedelta(days=2)
    admin = _admin(conn)
    merchant, shop = _merchant(conn, _at(d0, 9))
    _topup(conn, admin, merchant, "1000.00", _at(d0, 9))
    c = _running(conn, admin, merchant, shop, _at(d0, 10), daily="300.00")

    w1, w2, w3, w4 = (_at(d0, h) for h in (12, 13, 14, 15))
    first = billing.settle(conn, c.id, d0, D("40.00"), w1, now=w1)
    assert (first.outcome, first.charged, first.previous_owed) == ("charged", D("40.00"), 0)
    # the same window again (a rerun, or a run killed after its commit): nothing moves
    assert billing.settle(conn, c.id, d0, D("40.00"), w1, now=w2).outcome == "replayed"
    more = billing.settle(conn, c.id, d0, D("95.50"), w2, now=w2)
    assert (more.outcome, more.charged) == ("charged", D("55.50"))
    # an older window from a slower run is ignored
    assert billing.settle(conn, c.id, d0, D("10.00"), w1 + timedelta(minutes=1)).outcome \
        == "stale"
    assert billing.settle(conn, c.id, d0, D("95.50"), w3).outcome == "unchanged"
    # traffic found invalid later: the day owes less, the difference comes back
    free_before = wallet.balance(conn, merchant).available
    less = billing.settle(conn, c.id, d0, D("80.00"), w3, now=w3)
    assert (less.outcome, less.credited) == ("credited", D("15.50"))
    assert wallet.balance(conn, merchant).available == free_before + D("15.50")
    net = sum((ch.charged - ch.credited for ch in billing.charges_of(conn, c.id)), D(0))
    assert net == D("80.00") == campaigns.get_campaign(conn, c.id).spent
    # beyond the daily budget: capped at it, the rest never asked again
    capped = billing.settle(conn, c.id, d0, D("450.00"), w4, now=w4)
    assert capped.charged == D("220.00")
    net = sum((ch.charged - ch.credited for ch in billing.charges_of(conn, c.id)), D(0))
    assert net == D("300.00")
    assert billing.settled_owed(conn, c.id, d0) == (D("450.00"), w4)
    assert ledger.unbalanced_entries(conn) == []


def test_a_day_never_active_is_not_billed(conn: Any) -> None:
    d0 = wallet.today() - timedelta(days=3)
    admin = _admin(conn)
    merchant, shop = _merchant(conn, _at(d0, 9))
    _topup(conn, admin, merchant, "500.00", _at(d0, 9))
    c = _running(conn, admin, merchant, shop, _at(d0, 10))
    campaigns.act(conn, admin, c.id, "pause", now=_at(d0, 23, 50))
    d1 = d0 + timedelta(days=1)
    out = billing.settle(conn, c.id, d1, D("30.00"), _at(d1, 12), now=_at(d1, 12))
    assert (out.outcome, out.charged) == ("not_billable", 0)
    assert billing.charges_of(conn, c.id) == []


def test_concurrent_runs_settle_a_window_once(core_dsn: str) -> None:
    d0 = wallet.today() - timedelta(days=1)

    def setup(own: Any) -> campaigns.Campaign:
        admin = _admin(own)
        merchant, shop = _merchant(own, _at(d0, 9))
        _topup(own, admin, merchant, "1000.00", _at(d0, 9))
        return _running(own, admin, merchant, shop, _at(d0, 10))
    c = _committed(core_dsn, setup)
    through = _at(d0, 18)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        with psycopg.connect(core_dsn, autocommit=True) as own:
            barrier.wait()
            outcomes.append(billing.settle(own, c.id, d0, D("77.70"), through).outcome)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["charged", "replayed", "replayed", "replayed"]
    with psycopg.connect(core_dsn) as own:
        assert [ch.charged for ch in billing.charges_of(own, c.id)] == [D("77.70")]
