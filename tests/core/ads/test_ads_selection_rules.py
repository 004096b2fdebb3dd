"""The selection's rules without the API: tokens (signing, tampering, fuzzing), targeting
per surface, ranking, pacing over the day, the user agent's cleaning."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace_core.ads import tokens
from marketplace_core.ads.reporting import clean_user_agent
from marketplace_core.ads.serving import (
    Context,
    LiveCampaign,
    Snapshot,
    SponsoredProduct,
    matches_query,
    paced_ok,
    parse_slots,
    rank,
    words,
)
from marketplace_core.ads.wallet import day_start, today
from marketplace_core.errors import ValidationError


def _token(**over: Any) -> tokens.AdToken:
    base: dict[str, Any] = dict(
        impression_id=uuid.uuid4(), campaign_id=uuid.uuid4(), merchant_id=uuid.uuid4(),
        shop_id=uuid.uuid4(), campaign_type="boost", placement="explore", pricing="cpc",
        price=Decimal("12.50"), target_type="post", target_id=uuid.uuid4(), position=3,
        viewer_kind="u", viewer="ab" * 16, served_at_ms=1_700_000_000_000,
        expires_at_ms=1_700_086_400_000)
    base.update(over)
    return tokens.AdToken(**base)


def test_a_token_round_trips_and_any_change_breaks_it() -> None:
    t = _token(target_id=None, position=None, viewer_kind="s", viewer="sess-1", own_ad=True)
    signed = tokens.sign(t)
    assert tokens.read(signed) == t
    head, payload, mac = signed.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(mac[-1]) ^ 1]  # differs only in base64's spare bits
    for bad in (f"{head}.{payload}.{mac[:-1]}{twin}",
                f"{head}.{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{mac}",
                f"v2.{payload}.{mac}", signed + "=", signed.replace(".", "..", 1), "",
                signed * 3, "v1." + base64.urlsafe_b64encode(b"[1,2]").decode() + "." + mac):
        with pytest.raises(ValidationError) as err:
            tokens.read(bad)
        assert err.value.code == "AD_TOKEN_INVALID"


def test_a_token_signed_with_another_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.settings import get_settings

    signed = tokens.sign(_token())
    monkeypatch.setattr(get_settings(), "ads_token_secret", "another-secret-" + "x" * 40)
    with pytest.raises(ValidationError):
        tokens.read(signed)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=2000), st.binary(max_size=600).map(
    lambda b: "v1." + base64.urlsafe_b64encode(b).decode().rstrip("=") + "." + "A" * 43),
    st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3)))
def test_garbage_is_always_the_same_422(value: Any) -> None:
    with pytest.raises(ValidationError) as err:
        tokens.read(value)
    assert err.value.code == "AD_TOKEN_INVALID"


def test_user_agents_are_cut_and_cleaned() -> None:
    assert clean_user_agent("Mozilla\x00/5.0\r\n\x1b[31m") == "Mozilla/5.0[31m"
    assert clean_user_agent("a" * 1000) == "a" * 256
    assert clean_user_agent("\x00\x01") is None and clean_user_agent(None) is None


def _product(name: str, category: uuid.UUID | None = None,
             price: str = "100.00") -> SponsoredProduct:
    return SponsoredProduct(uuid.uuid4(), {"ru": name}, frozenset(words(name)), category,
                            "Shop", "Dordoi", 42.9375, 74.6190, (Decimal(price),), False)


def _campaign(**over: Any) -> LiveCampaign:
    base: dict[str, Any] = dict(
        id=uuid.uuid4(), merchant_id=uuid.uuid4(), shop_id=uuid.uuid4(), type="boost",
        pricing="cpm", bid=Decimal("100.00"), daily_budget=Decimal("1000.00"),
        total_budget=Decimal("5000.00"), spent=Decimal(0), markets=frozenset(), geo=None,
        category_ids=frozenset(), tags=frozenset(), post_id=uuid.uuid4(), products=())
    base.update(over)
    return LiveCampaign(**base)


def _ids(snap: Snapshot, ctx: Context) -> list[uuid.UUID]:
    return [c.campaign.id for c in rank(snap, ctx)]


def test_targeting_per_surface() -> None:
    shoes, phones = uuid.uuid4(), uuid.uuid4()
    sneakers = uuid.uuid4()
    anywhere = _campaign()
    dordoi = _campaign(markets=frozenset({"dordoi"}))
    radius = _campaign(geo=(42.8746, 74.5698, 1.0))
    tagged = _campaign(tags=frozenset({"обувь"}))
    search_shoes = _campaign(type="search", post_id=None, category_ids=frozenset({shoes}),
                             products=(_product("Кроссовки Nike", sneakers),))
    search_any = _campaign(type="search", post_id=None,
                           products=(_product("Чехол для смартфона"),))
    snap = Snapshot([anywhere, dordoi, radius, tagged, search_shoes, search_any],
                    {shoes: None, sneakers: shoes, phones: None}, today())

    explore = set(_ids(snap, Context("explore")))
    assert explore == {anywhere.id}  # no place, no tags: located and tagged ones wait
    assert dordoi.id in _ids(snap, Context("explore", near=(42.9370, 74.6185)))
    assert dordoi.id not in _ids(snap, Context("explore", near=(42.8750, 74.5690)))
    assert radius.id in _ids(snap, Context("explore", near=(42.8750, 74.5690)))
    assert radius.id not in _ids(snap, Context("explore", near=(42.9370, 74.6185)))
    assert tagged.id in _ids(snap, Context("explore", tags=["обувь"]))
    # Following expresses nothing: every boost may compete
    assert set(_ids(snap, Context("following"))) == {anywhere.id, dordoi.id, radius.id,
                                                     tagged.id}
    # search: the query and the categories (filter or results, with ancestors)
    assert _ids(snap, Context("search", query="кроссовок")) == []  # no category context
    assert _ids(snap, Context("search", query="кроссовок", categories={sneakers})) == [
        search_shoes.id]
    assert _ids(snap, Context("search", query="кроссовки", categories={phones})) == []
    assert _ids(snap, Context("search", query="смартфн чехлы")) == [search_any.id]
    assert _ids(snap, Context("search", query="ноутбук")) == []
    assert _ids(snap, Context("search", query="чехол", price_max=Decimal("50"))) == []
    assert _ids(snap, Context("search", query="чехол", category_filter=phones)) == []


def test_ranking_by_expected_value_per_impression() -> None:
    cpc_good = _campaign(pricing="cpc", bid=Decimal("10.00"), ctr=0.05)  # 0.5 per imp.
    cpm = _campaign(pricing="cpm", bid=Decimal("300.00"))  # 0.3
    cpc_poor = _campaign(pricing="cpc", bid=Decimal("10.00"), ctr=0.01)  # 0.1
    fixed = _campaign(pricing="fixed_daily", bid=Decimal("200.00"))  # 200 / 1000 = 0.2
    snap = Snapshot([cpc_poor, fixed, cpm, cpc_good], {}, today())
    assert _ids(snap, Context("following")) == [cpc_good.id, cpm.id, fixed.id, cpc_poor.id]


def test_pacing_spreads_the_daily_budget_over_the_day() -> None:
    morning = day_start(today()) + timedelta(hours=2)  # 1/12 of the day
    c = _campaign(pricing="cpc", bid=Decimal("5.00"), daily_budget=Decimal("1200.00"))
    # allowed by 02:00 = 1200 x 1/12 x 1.2 + one click = 125
    assert paced_ok(_with(c, spend_today=Decimal("119.00")), morning)
    assert not paced_ok(_with(c, spend_today=Decimal("125.00")), morning)
    evening = day_start(today()) + timedelta(hours=23)
    assert paced_ok(_with(c, spend_today=Decimal("1100.00")), evening)
    assert not paced_ok(_with(c, spend_today=Decimal("1200.00")), evening)  # the budget
    # the total budget left
    assert not paced_ok(_with(c, spent=Decimal("4990.00"), spend_today=Decimal("10.00")),
                        evening)
    fixed = _campaign(pricing="fixed_daily", bid=Decimal("300.00"))
    assert paced_ok(fixed, morning)
    assert not paced_ok(_with(fixed, spent=Decimal("4800.00")), morning)  # cannot pay a day


def _with(c: LiveCampaign, **values: Any) -> LiveCampaign:
    from dataclasses import replace

    return replace(c, **values)


def test_slots_and_query_words() -> None:
    assert parse_slots("10, 3,3,x") == [] and parse_slots("10, 3") == [3, 10]
    p = _product("Смартфон Samsung Galaxy")
    assert matches_query(words("смартфн самсунг"), p) is False  # "самсунг" is not Samsung
    assert matches_query(words("смартфоны galaxy"), p)
    assert isinstance(datetime.now(), datetime)
