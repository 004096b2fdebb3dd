"""Buy eligibility (spec §3.4): POS heartbeat freshness, payout status, announced changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from marketplace_core.errors import DomainError, ErrorCode
from marketplace_core.orders import eligibility
from marketplace_core.payments import payout_accounts
from marketplace_core.pos import service as pos
from schemas.topics import CORE_SHOP_ELIGIBILITY
from tests.core.test_orders_support import events, make_shop, register_device

T0 = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


def test_heartbeat_freshness_decides_the_mode(conn):
    _, shop_id = make_shop(conn)
    device = register_device(conn, shop_id)
    pos.record_heartbeat(conn, device, firmware_version="2.4.1", now=T0)

    at_9 = eligibility.shop_eligibility(conn, shop_id, T0 + timedelta(minutes=9))
    assert at_9.mode == "online_purchase" and at_9.reasons == ()
    assert [a.type for a in at_9.actions] == ["buy", "contact", "call"]
    at_10 = eligibility.shop_eligibility(conn, shop_id, T0 + timedelta(minutes=10))
    assert at_10.mode == "online_purchase"  # "at most 10 minutes ago" still counts
    at_11 = eligibility.shop_eligibility(conn, shop_id, T0 + timedelta(minutes=11))
    assert at_11.mode == "manual_contact" and at_11.reasons == ("POS_INACTIVE",)
    assert at_11.last_heartbeat_at == T0
    assert [(a.type, a.phone) for a in at_11.actions] == [
        ("contact", None), ("call", "+996555123456"), ("request_availability", None)]
    assert pos.get_device(conn, device).firmware_version == "2.4.1"  # type: ignore[union-attr]


def test_payout_inactive_means_manual_contact_even_with_a_live_pos(conn):
    _, shop_id = make_shop(conn, payout_status="inactive", phone=None)
    pos.record_heartbeat(conn, register_device(conn, shop_id), now=T0)
    state = eligibility.shop_eligibility(conn, shop_id, T0 + timedelta(minutes=1))
    assert state.mode == "manual_contact" and state.reasons == ("PAYOUT_INACTIVE",)
    assert [a.type for a in state.actions] == ["contact", "request_availability"]  # no phone
    silent = eligibility.shop_eligibility(conn, shop_id, T0 + timedelta(hours=1))
    assert silent.reasons == ("POS_INACTIVE", "PAYOUT_INACTIVE")


def test_no_terminal_or_inactive_terminal_is_not_online(conn):
    _, shop_id = make_shop(conn)
    assert eligibility.shop_eligibility(conn, shop_id, T0).reasons == ("POS_INACTIVE",)
    inactive = register_device(conn, shop_id, status="inactive")
    pos.record_heartbeat(conn, inactive, now=T0)  # recorded, but an inactive terminal
    assert eligibility.shop_eligibility(conn, shop_id, T0).mode == "manual_contact"


def test_heartbeat_errors(conn):
    with pytest.raises(DomainError) as unknown:
        pos.record_heartbeat(conn, "POS-99999999999", now=T0)
    assert unknown.value.code == ErrorCode.DEVICE_NOT_FOUND
    _, shop_id = make_shop(conn)
    retired = register_device(conn, shop_id, status="retired")
    with pytest.raises(DomainError) as gone:
        pos.record_heartbeat(conn, retired, now=T0)
    assert gone.value.code == ErrorCode.DEVICE_RETIRED
    with pytest.raises(DomainError) as no_shop:
        eligibility.shop_eligibility(conn, uuid4(), T0)
    assert no_shop.value.code == ErrorCode.SHOP_NOT_FOUND


def test_changes_are_announced_once_per_change(conn):
    merchant_id, shop_id = make_shop(conn)
    device = register_device(conn, shop_id)

    # heartbeats every minute: online is announced once
    for minute in range(5):
        pos.record_heartbeat(conn, device, now=T0 + timedelta(minutes=minute))
    announced = events(conn, CORE_SHOP_ELIGIBILITY, shop_id)
    assert [(e["mode"], e["previous_mode"]) for e in announced] == [("online_purchase", None)]
    assert announced[0]["merchant_id"] == merchant_id  # decoded as a UUID
    assert announced[0]["event_type"] == "shop_eligibility.changed"

    # the terminal falls silent: the sweep notices once, however often it runs (the
    # session database holds other tests' shops too, so counts are checked per shop)
    eligibility.sweep_stale_pos(conn, T0 + timedelta(minutes=13))  # heard 9 min ago
    assert eligibility.stored_mode(conn, shop_id) == "online_purchase"
    assert eligibility.sweep_stale_pos(conn, T0 + timedelta(minutes=15)) >= 1
    eligibility.sweep_stale_pos(conn, T0 + timedelta(minutes=16))
    assert eligibility.stored_mode(conn, shop_id) == "manual_contact"
    assert len(events(conn, CORE_SHOP_ELIGIBILITY, shop_id)) == 2

    # back online on the next heartbeat
    pos.record_heartbeat(conn, device, now=T0 + timedelta(minutes=20))
    # payout suspended, then onboarded again by the admin
    payout_accounts.suspend(conn, merchant_id, reason="chargebacks",
                            now=T0 + timedelta(minutes=21))
    payout_accounts.suspend(conn, merchant_id, now=T0 + timedelta(minutes=21))  # no change
    payout_accounts.onboard(conn, merchant_id, provider="mbank", account_number="+996700111222",
                            by_admin=True, now=T0 + timedelta(minutes=22))
    modes = [(e["mode"], e["reasons"]) for e in events(conn, CORE_SHOP_ELIGIBILITY, shop_id)]
    assert modes == [
        ("online_purchase", []),
        ("manual_contact", ["POS_INACTIVE"]),
        ("online_purchase", []),
        ("manual_contact", ["PAYOUT_INACTIVE"]),
        ("online_purchase", []),
    ]


def test_sweep_skips_shops_already_known_to_be_offline(conn):
    _, shop_id = make_shop(conn, payout_status="inactive")
    device = register_device(conn, shop_id)
    pos.record_heartbeat(conn, device, now=T0)  # announced: manual (payout)
    assert eligibility.sweep_stale_pos(conn, T0 + timedelta(minutes=30)) >= 1  # + POS_INACTIVE
    eligibility.sweep_stale_pos(conn, T0 + timedelta(minutes=40))  # nothing new for this shop
    reasons = [e["reasons"] for e in events(conn, CORE_SHOP_ELIGIBILITY, shop_id)]
    assert reasons == [["PAYOUT_INACTIVE"], ["POS_INACTIVE", "PAYOUT_INACTIVE"]]


def test_onboarding_validates_and_suspension_blocks_the_seller(conn):
    merchant_id, shop_id = make_shop(conn, payout_status="inactive")
    _, second_shop = make_shop(conn, payout_status="inactive", merchant_id=merchant_id)
    for provider, number, bank in [("paypal", "1234567890", None), ("bank", "12-34", "KICB"),
                                   ("bank", "1234567890123456", None),
                                   ("elsom", "+7700111222", None)]:
        with pytest.raises(DomainError) as bad:
            payout_accounts.onboard(conn, merchant_id, provider=provider,
                                    account_number=number, bank_name=bank, now=T0)
        assert bad.value.code == ErrorCode.INVALID_PAYOUT_ACCOUNT, (provider, number)

    account, states = payout_accounts.onboard(
        conn, merchant_id, provider="bank", account_number="1234 5678 9012 3456",
        bank_name="KICB", account_holder="ОсОО Базар", now=T0)
    assert account.status == "active" and account.account_number == "1234567890123456"
    assert account.masked_number == "************3456"
    assert {s.shop_id for s in states} == {shop_id, second_shop}
    assert all(s.payout_status == "active" for s in states)
    assert payout_accounts.get_payout_account(conn, merchant_id) == account

    suspended, states = payout_accounts.suspend(conn, merchant_id, reason="fraud", now=T0)
    assert suspended is not None and suspended.status == "suspended"
    assert all(s.reasons == ("POS_INACTIVE", "PAYOUT_INACTIVE") for s in states)
    with pytest.raises(DomainError) as blocked:
        payout_accounts.onboard(conn, merchant_id, provider="elsom",
                                account_number="+996700111222", now=T0)
    assert blocked.value.code == ErrorCode.PAYOUT_SUSPENDED

    with pytest.raises(DomainError) as missing:
        payout_accounts.suspend(conn, uuid4(), now=T0)
    assert missing.value.code == ErrorCode.MERCHANT_NOT_FOUND
