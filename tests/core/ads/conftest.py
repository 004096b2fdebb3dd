"""The app with the PSP simulator's webhooks delivered in-process, and an admin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from marketplace_core.payments.simulator import InProcessWebhookSender
from tests.core.auth_helpers import TestUser, make_user


@pytest.fixture(scope="module")
def api(core_api: Any) -> Iterator[Any]:
    core_api.app.state.psp_webhook_sender = InProcessWebhookSender(core_api.app.state.pool)
    yield core_api


@pytest.fixture(scope="module")
def admin(api: Any) -> TestUser:
    return make_user(api, "admin")
