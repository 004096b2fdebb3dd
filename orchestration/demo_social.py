"""The social half of `make demo`: shops post, buyers react, the apps send behaviour.

Every change goes through the core's own functions (so through the outbox onto
`social.*`), and every behavioural event through the real `POST /events` of the running
core API (onto `analytics.raw`). Popularity is skewed on purpose: an older post gets most
of the attention, so Explore's lake-computed order visibly differs from newest-first.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from infra.settings import get_settings
from marketplace_core.db import transaction

CAPTIONS = (
    "Новая коллекция уже на прилавке #новинки #{market}",
    "Скидки выходного дня, заходите #скидки #{market}",
    "Свежий завоз из Турции, размеры S–XL #одежда #{market}",
    "Только сегодня: второй товар за полцены #акция #{market}",
)


@dataclass(frozen=True)
class SocialWorld:
    posts: list[tuple[UUID, UUID, str]]  # (post id, shop id, shop name), oldest first
    buyers: int
    reactions: int
    comments: int
    chats: int
    events: int


def _weights(n: int, rng: random.Random) -> list[float]:
    """Attention per post: the SECOND-oldest post is the hit (so it is neither first by
    freshness nor by creation order), the rest a long tail."""
    w = [rng.uniform(0.05, 0.3) for _ in range(n)]
    w[1] = 1.0
    return w


def seed_social(summary: Any, *, buyers: int = 24, seed: int | None = None) -> SocialWorld:
    from marketplace_core.accounts import ownership
    from marketplace_core.accounts import service as accounts
    from marketplace_core.accounts.principal import AuthenticatedUser
    from marketplace_core.catalog import service as catalog
    from marketplace_core.chat import service as chat
    from marketplace_core.social import comments, graph, posts

    rng = random.Random(seed)
    made: list[tuple[UUID, UUID, str]] = []
    for shop in summary.shops:
        with transaction() as conn:
            details = catalog.get_shop(conn, shop.id)
            assert details is not None
            seller = accounts.register_user(
                conn, email=f"demo-seller-{secrets.token_hex(4)}@bazaar.kg",
                password=secrets.token_urlsafe(16), full_name=f"Seller of {shop.name}",
                role="seller", password_rounds=4).user
            ownership.add_merchant_member(conn, details.merchant_id, seller.id)
            actor = AuthenticatedUser(seller.id, "seller")
            market = (shop.market or "Бишкек").split()[0].lower()
            products = sorted({v.product_id for v in catalog.list_variants_for_shop(
                conn, shop.id)})
            for caption in rng.sample(CAPTIONS, 2):
                post_id = posts.create_post(conn, actor, posts.PostInput(
                    text=caption.format(market=market), shop_id=shop.id,
                    product_ids=rng.sample(products, min(2, len(products))),
                    lat=details.lat, lon=details.lon,
                    media=[posts.MediaInput(kind="image", object_key=f"demo/{uuid.uuid4()}.jpg",
                                            width=1080, height=1350,
                                            alt_text=f"{shop.name}: витрина")]))
                made.append((post_id, shop.id, shop.name))
    weights = _weights(len(made), rng)
    reactions = comment_count = chats = 0
    people = []
    for n in range(buyers):
        with transaction() as conn:
            buyer = accounts.register_user(
                conn, email=f"demo-fan-{secrets.token_hex(4)}@bazaar.kg",
                password=secrets.token_urlsafe(16), full_name=f"Покупатель {n}",
                role="buyer", password_rounds=4).user
            actor = AuthenticatedUser(buyer.id, "buyer")
            people.append(actor)
            for (post_id, shop_id, _), w in zip(made, weights, strict=True):
                if rng.random() < w * 0.8:
                    posts.set_reaction(conn, actor, post_id, "like", True)
                    reactions += 1
                if rng.random() < w * 0.4:
                    posts.set_reaction(conn, actor, post_id, "save", True)
                    reactions += 1
                if rng.random() < w * 0.15:
                    posts.share(conn, actor, post_id)
                    reactions += 1
                if rng.random() < w * 0.1:
                    comments.add_comment(conn, actor, post_id, "Сколько стоит? Есть размер M?")
                    comment_count += 1
                if rng.random() < w * 0.3:
                    graph.follow(conn, actor, "shop", shop_id, True)
                if rng.random() < w * 0.15:  # the core itself records chat_started
                    conversation, _ = chat.open_conversation(conn, actor, shop_id,
                                                             surface="feed")
                    chat.send_message(conn, actor, conversation.id,
                                      "Здравствуйте! Это ещё в наличии?")
                    chats += 1
    events = send_behaviour(made, weights, rng)
    return SocialWorld(made, buyers, reactions, comment_count, chats, events)


def send_behaviour(made: list[tuple[UUID, UUID, str]], weights: list[float],
                   rng: random.Random, *, sessions: int = 300) -> int:
    """Guests browse Explore and the map: impressions, taps, shop views and routes, in
    batches through the core API's POST /events."""
    s = get_settings()
    now = dt.datetime.now(dt.UTC)
    batch: list[dict[str, Any]] = []
    sent = 0

    def flush() -> None:
        nonlocal sent, batch
        if not batch:
            return
        r = httpx.post(f"{s.core_api_url}/events", json={"events": batch}, timeout=60)
        r.raise_for_status()
        sent += int(r.json()["accepted"])
        batch = []

    for n in range(sessions):
        session, anon = f"demo-{uuid.uuid4().hex[:12]}", f"install-{n}"
        at = (now - dt.timedelta(minutes=rng.uniform(1, 180))).isoformat()
        base = {"occurred_at": at, "session_id": session, "anonymous_id": anon,
                "platform": rng.choice(["android", "ios", "web"])}
        for position, ((post_id, shop_id, _), w) in enumerate(zip(made, weights, strict=True)):
            if rng.random() > 0.6:
                continue
            batch.append({**base, "event_id": str(uuid.uuid4()), "event_type": "post_impression",
                          "surface": "explore", "target_type": "post",
                          "target_id": str(post_id), "position": position})
            if rng.random() < w * 0.35:
                batch.append({**base, "event_id": str(uuid.uuid4()), "event_type": "click",
                              "surface": "explore", "target_type": "post",
                              "target_id": str(post_id), "position": position})
                batch.append({**base, "event_id": str(uuid.uuid4()), "event_type": "view",
                              "surface": "explore", "target_type": "shop",
                              "target_id": str(shop_id)})
                if rng.random() < 0.3:
                    batch.append({**base, "event_id": str(uuid.uuid4()),
                                  "event_type": rng.choice(["route_built", "call_click"]),
                                  "surface": "map", "target_type": "shop",
                                  "target_id": str(shop_id)})
            if len(batch) >= 400:
                flush()
    flush()
    return sent


def explore_page(limit: int = 8) -> list[dict[str, Any]]:
    s = get_settings()
    r = httpx.get(f"{s.core_api_url}/feed/explore", params={"limit": limit, "explain": 1},
                  timeout=30)
    r.raise_for_status()
    return list(r.json()["items"])


def post_metrics(post_id: UUID) -> list[dict[str, Any]]:
    """The post's rows of post_metric_daily (through the process that owns the warehouse)."""
    s = get_settings()
    r = httpx.get(f"{s.serving_api_url}/internal/marts/post_metric_daily",
                  headers={"X-Internal-Token": s.internal_token}, timeout=60)
    r.raise_for_status()
    return [row for row in r.json()["rows"] if row["post_id"] == str(post_id)]
