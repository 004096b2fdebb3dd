"""The demo's notification scene: a POS terminal goes silent and its seller gets the
`pos_offline` e-mail in the local mailbox (Mailpit).

    python -m marketplace_core.notifications.demo

Against the running stack (`make up`: the outbox relay and the notifications worker carry
it): a new seller with a merchant, a shop and a terminal last heard 11 minutes ago; the
sweep marks the terminal offline (in the same transaction as its old heartbeat, so the
API's own sweeper cannot take the scene first); the relay publishes notify.pos, the worker
finds the seller has no push token and falls back to e-mail. Prints the message's address
in Mailpit's web UI.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from infra.settings import get_settings
from marketplace_core.accounts import ownership
from marketplace_core.accounts import service as accounts
from marketplace_core.catalog import service as catalog
from marketplace_core.db import transaction
from marketplace_core.pos import service as pos
from marketplace_core.pos.status import sweep_offline_devices


@dataclass(frozen=True)
class Scene:
    seller_email: str
    shop_name: str
    device_id: str
    subject: str
    mailbox_url: str  # the message in Mailpit's web UI


def pos_offline_scene(timeout: float = 90.0) -> Scene:
    """Play the scene; raises TimeoutError when no e-mail arrives within `timeout`."""
    s = get_settings()
    tag = secrets.token_hex(3)
    email = f"seller-{tag}@demo.bazaar.kg"
    shop_name = f"Дордой, контейнер {tag.upper()}"
    device = f"POS-{secrets.randbelow(10**8):08d}"
    now = datetime.now(UTC)
    silent_since = now - timedelta(minutes=s.policy.pos_heartbeat_timeout_minutes + 1)
    with transaction() as conn:
        seller = accounts.register_user(conn, email=email, password=secrets.token_urlsafe(16),
                                        full_name="Демо продавец", role="seller").user
        merchant = catalog.create_merchant(conn, f"ИП Демо {tag}")
        ownership.add_merchant_member(conn, merchant.id, seller.id)
        shop = catalog.create_shop(conn, merchant.id, shop_name,
                                   address="Бишкек, рынок Дордой")
        pos.register_device(conn, device, shop.id)
        pos.record_heartbeat(conn, device, now=silent_since)
        sweep_offline_devices(conn, now=now)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = httpx.get(f"{s.mailpit_url}/api/v1/search", params={"query": f'to:"{email}"'},
                          timeout=5).json().get("messages") or []
        if found:
            return Scene(email, shop_name, device, found[0]["Subject"],
                         f"{s.mailpit_url}/view/{found[0]['ID']}")
        time.sleep(0.5)
    raise TimeoutError(f"no e-mail reached {email} within {timeout:.0f}s: are the "
                       "outbox-relay and notifications-worker services up (make status)?")


def main() -> None:
    scene = pos_offline_scene()
    print(f"terminal {scene.device_id} of «{scene.shop_name}» went silent "
          f"({get_settings().policy.pos_heartbeat_timeout_minutes}+ min)")
    print(f"  e-mail to {scene.seller_email}: {scene.subject}")
    print(f"  read it   {scene.mailbox_url}")


if __name__ == "__main__":
    main()
