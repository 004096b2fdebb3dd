"""The notification types: each one's category (= its notify.* topic), template, priority
and consent class. Producers name the type; everything else is decided here once."""

from __future__ import annotations

from dataclasses import dataclass

CHANNELS = ("push", "email", "sms")
# Channel fallback order (seed 000 §25.6): push, then e-mail, then SMS, each only where the
# recipient's preferences allow it.
FALLBACK_ORDER = CHANNELS
CATEGORIES = ("order", "chat", "pos", "moderation", "analytics", "system")
LOCALES = ("ru", "ky", "en", "zh", "kk", "uz")
DEFAULT_LOCALE = "ru"


@dataclass(frozen=True)
class NotificationType:
    key: str
    category: str
    template: str
    # high: may bypass quiet hours (seed §25.10: POS offline, order ready for pickup)
    priority: str = "normal"
    consent: str = "transactional"


def _t(key: str, category: str, template: str | None = None, priority: str = "normal",
       consent: str = "transactional") -> NotificationType:
    return NotificationType(key, category, template or key, priority, consent)


TYPES: dict[str, NotificationType] = {t.key: t for t in (
    _t("order_created", "order"),
    _t("order_cancelled", "order"),
    _t("order_ready_for_pickup", "order", priority="high"),
    _t("order_delivered", "order"),
    _t("chat_new_message", "chat"),
    _t("chat_reply", "chat", "chat_new_message"),
    _t("pos_offline", "pos", priority="high"),
    _t("pos_online", "pos"),
    _t("pos_stock_discrepancy", "pos"),
    _t("moderation_rejected", "moderation"),
    _t("moderation_approved", "moderation"),
    _t("daily_shop_report", "analytics"),
    _t("analytics_anomaly", "analytics"),
    # POST /notifications/test: what an owner or admin sends to check their channels
    _t("test_message", "system"),
)}

HIGH_PRIORITY = frozenset(k for k, t in TYPES.items() if t.priority == "high")
