"""The app with the PSP simulator's webhooks delivered in-process, and an admin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from marketplace_core.payments.webhooks import InProcessWebhookSender
from tests.core.auth_helpers import TestUser, make_user


@pytest.fixture(scope="module")
def api(core_api: Any) -> Iterator[Any]:
    core_api.app.state.psp_webhook_sender = InProcessWebhookSender(core_api.app.state.pool)
    yield core_api


@pytest.fixture(scope="module")
def admin(api: Any) -> TestUser:
    return make_user(api, "admin")


# --- serving: a fresh ad server per test, ad events on a throwaway topic ---------------------

@pytest.fixture(scope="module")
def ad_topic() -> Iterator[str]:
    """A fresh topic standing in for ads.events (deleted after), the catalog's schema
    registered (what `make up` does)."""

    from schemas.topics import ADS_EVENTS
    from tests.stand_in_topics import stand_in_topic

    with stand_in_topic(ADS_EVENTS, "ads.events") as name:
        yield name


@pytest.fixture
def serving(api: Any, ad_topic: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The API with a snapshot reloaded at every request (no background thread), ad
    slots at position 1 of feeds and 0 of search, and a reporter on the test topic."""
    from infra.settings import get_settings
    from marketplace_core.ads.reporting import AdEventReporter
    from marketplace_core.ads.serving import AdServer

    s = get_settings()
    monkeypatch.setattr(s, "ads_feed_slots", "1")
    monkeypatch.setattr(s, "ads_search_slots", "0")
    monkeypatch.setattr(s, "ads_serving_enabled", True)
    reporter = AdEventReporter(topic=ad_topic)
    from marketplace_core.social.ranking import ExploreIndex

    api.app.state.ad_server = AdServer(pool=None, refresh_s=0)
    api.app.state.ad_events = reporter
    previous_index = getattr(api.app.state, "explore_index", None)
    api.app.state.explore_index = ExploreIndex(check_every_s=0, cold_every_s=0)
    yield api
    api.app.state.explore_index = previous_index
    api.app.state.ad_server = None
    api.app.state.ad_events = None
    reporter.close()
