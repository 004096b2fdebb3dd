"""The topic catalog: every topic the platform owns, created explicitly (auto-create is off).

Each entry names its key, its value schema (a file in this folder, registered under the
TopicNameStrategy subject `<topic>-value` with BACKWARD compatibility), partitions and
retention. `schemas/README.md` documents the same table for people.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    schema_file: str
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"

    @property
    def subject(self) -> str:
        return f"{self.name}-value"

    @property
    def config(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            "min.insync.replicas": "1",
        }


POS_SALES = Topic(
    name="pos.sales",
    key="device_id (keeps each terminal's receipts in order)",
    schema_file="pos/pos_sale.avsc",
    partitions=6,
    retention_ms=14 * DAY_MS,
)


# --- the transactional core's change streams (written through marketplace_core.outbox) ---
# Every record starts with the same envelope: event_id (consumers dedupe on it), event_type
# and occurred_at; the rest is the entity's state after the change. Key = entity id, so
# each entity's changes stay in commit order within one partition.
CORE_RETENTION_MS = 30 * DAY_MS


def _core(name: str, key: str, schema: str) -> Topic:
    return Topic(name=name, key=key, schema_file=f"core/{schema}.avsc", partitions=6,
                 retention_ms=CORE_RETENTION_MS)


CORE_PRODUCTS = _core("core.products", "product_id", "product")
CORE_VARIANTS = _core("core.variants", "variant_id (price and stock changes)", "variant")
CORE_ORDERS = _core("core.orders", "order_id", "order")
CORE_PAYMENTS = _core("core.payments", "payment_id", "payment")
CORE_PAYOUTS = _core("core.payouts", "payout_id", "payout")
CORE_REFUNDS = _core("core.refunds", "refund_id", "refund")
CORE_SUBSCRIPTIONS = _core("core.subscriptions", "subscription_id", "subscription")
CORE_SHOP_ELIGIBILITY = _core("core.shop_eligibility", "shop_id", "shop_eligibility")
CORE_MERCHANTS = _core("core.merchants", "merchant_id", "merchant")
CORE_SHOPS = _core("core.shops", "shop_id", "shop")
CORE_CATEGORIES = _core("core.categories", "category_id", "category")
CORE_USERS = _core("core.users", "user_id (no personal data in the value)", "user")

POS_HEARTBEATS = Topic(
    name="pos.heartbeats",
    key="device_id",
    schema_file="pos/pos_heartbeat.avsc",
    partitions=6,
    retention_ms=7 * DAY_MS,
)
POS_DEAD_LETTER = Topic(
    name="pos.dead_letter",
    key="device_id (null when the event could not be read)",
    schema_file="pos/pos_dead_letter.avsc",
    partitions=3,
    retention_ms=30 * DAY_MS,
)
CORE_POS_DEVICES = _core("core.pos_devices", "device_id (pos_active / pos_offline)", "pos_device")
CORE_POS_RECEIPTS = _core("core.pos_receipts",
                          "device_id (keeps each terminal's applied receipts in order)",
                          "pos_receipt")

# --- the social domain's change streams (marketplace_core.social, through the outbox) ---
# Accounts appear only as pseudonyms (marketplace_core.accounts.pseudonyms).
def _social(name: str, key: str, schema: str) -> Topic:
    return Topic(name=name, key=key, schema_file=f"social/{schema}.avsc", partitions=6,
                 retention_ms=CORE_RETENTION_MS)


SOCIAL_POSTS = _social("social.posts", "post_id", "post")
SOCIAL_REACTIONS = _social("social.reactions", "post_id (a post's reactions stay in order)",
                           "reaction")
SOCIAL_COMMENTS = _social("social.comments", "post_id", "comment")
SOCIAL_FOLLOWS = _social("social.follows", "follower_pseudo_id", "follow")

SOCIAL_TOPICS: tuple[Topic, ...] = (SOCIAL_POSTS, SOCIAL_REACTIONS, SOCIAL_COMMENTS,
                                    SOCIAL_FOLLOWS)

# --- behavioural events from the apps (POST /events; seed 000 §23.3 names analytics.raw) ---
# --- ads (marketplace_core.ads, through the outbox) -------------------------------------
ADS_CAMPAIGNS = Topic(
    name="ads.campaigns",
    key="campaign_id",
    schema_file="ads/ad_campaign.avsc",
    partitions=3,
    retention_ms=CORE_RETENTION_MS,
)
ADS_TOPICS: tuple[Topic, ...] = (ADS_CAMPAIGNS,)

# Impressions and clicks (POST /ads/events and GET /ads/click/{token}): produced directly by
# the API with acks=all like analytics.raw (too many for the outbox), keyed by campaign so a
# campaign's events stay in order for billing.
ADS_EVENTS = Topic(
    name="ads.events",
    key="campaign_id",
    schema_file="ads/ad_event.avsc",
    partitions=6,
    retention_ms=30 * DAY_MS,
)

ANALYTICS_RAW = Topic(
    name="analytics.raw",
    key="session_id (keeps a session's events in order)",
    schema_file="analytics/behaviour_event.avsc",
    partitions=6,
    retention_ms=30 * DAY_MS,
)
ANALYTICS_BAD_EVENTS = Topic(
    name="analytics.bad_events",
    key="none (round robin)",
    schema_file="analytics/bad_event.avsc",
    partitions=3,
    retention_ms=30 * DAY_MS,
)

# --- experiments (marketplace_core.experiments): exposures, produced directly by the API
# (acks=all, off the request's path), keyed by the unit so a unit's exposures stay in order.
EXPERIMENTS_EXPOSURES = Topic(
    name="experiments.exposures",
    key="unit (the account's pseudonym, or the guest's session id)",
    schema_file="experiments/exposure.avsc",
    partitions=3,
    retention_ms=30 * DAY_MS,
)
# --- notifications (seed 000 §25): domains → outbox → notify.* → notifications worker ------
# Key = the recipient (user or shop id): one recipient's notifications stay in order.
def _notify(name: str, schema: str) -> Topic:
    return Topic(name=name, key="recipient id (user or shop)",
                 schema_file=f"notify/{schema}.avsc", partitions=3, retention_ms=7 * DAY_MS)


NOTIFY_ORDER = _notify("notify.order", "order")
NOTIFY_CHAT = _notify("notify.chat", "chat")
NOTIFY_POS = _notify("notify.pos", "pos")
NOTIFY_MODERATION = _notify("notify.moderation", "moderation")
NOTIFY_ANALYTICS = _notify("notify.analytics", "analytics")
NOTIFY_TOPICS: tuple[Topic, ...] = (NOTIFY_ORDER, NOTIFY_CHAT, NOTIFY_POS, NOTIFY_MODERATION,
                                    NOTIFY_ANALYTICS)
# The delivery log's state changes (sent, delivered, failed, suppressed), for the lake.
NOTIFY_DELIVERIES = Topic(name="notify.deliveries", key="notification_id",
                          schema_file="notify/delivery.avsc", partitions=3,
                          retention_ms=30 * DAY_MS)

CORE_TOPICS: tuple[Topic, ...] = (
    CORE_PRODUCTS, CORE_VARIANTS, CORE_ORDERS, CORE_PAYMENTS, CORE_PAYOUTS, CORE_REFUNDS,
    CORE_SUBSCRIPTIONS, CORE_SHOP_ELIGIBILITY, CORE_POS_DEVICES, CORE_POS_RECEIPTS,
    CORE_MERCHANTS, CORE_SHOPS, CORE_CATEGORIES, CORE_USERS,
)

# Every topic the core's outbox writes (and its relay publishes).
OUTBOX_TOPICS: tuple[Topic, ...] = (*CORE_TOPICS, *SOCIAL_TOPICS, *ADS_TOPICS, *NOTIFY_TOPICS,
                                    NOTIFY_DELIVERIES)

CATALOG: tuple[Topic, ...] = (POS_SALES, POS_HEARTBEATS, POS_DEAD_LETTER, *CORE_TOPICS,
                              *SOCIAL_TOPICS, *ADS_TOPICS, ADS_EVENTS, ANALYTICS_RAW,
                              ANALYTICS_BAD_EVENTS, EXPERIMENTS_EXPOSURES, *NOTIFY_TOPICS,
                              NOTIFY_DELIVERIES)


@cache
def schema_str(topic: Topic) -> str:
    """The schema as canonical-ish JSON text (what the registry stores)."""
    return json.dumps(json.loads((SCHEMA_DIR / topic.schema_file).read_text()))
