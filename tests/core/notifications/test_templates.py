"""Templates: ru and en written, the other locales fall back to ru (and say so); an
unknown template or a missing placeholder is a failure with a reason, never a crash."""

from __future__ import annotations

import pytest

from marketplace_core.notifications.catalog import TYPES
from marketplace_core.notifications.templates import TemplateFailure, available, render

VALUES = {"userName": "Айгуль", "orderId": "A1B2C3D4", "pickupPoint": "Дордой, ряд 5",
          "shopName": "Бермет", "ts": "04.03.2031 10:00", "ctaUrl": "https://bazaar.kg/o/1",
          "total": "1500.00", "audience": "user", "entityType": "post"}

SPEC_TEMPLATES = ("order_created", "order_ready_for_pickup", "chat_new_message", "pos_offline",
                  "pos_online", "moderation_rejected", "daily_shop_report")


@pytest.mark.parametrize("key", sorted({t.template for t in TYPES.values()}))
def test_every_type_has_ru_and_en(key: str) -> None:
    assert available("ru", key) and available("en", key)


def test_the_spec_templates_exist() -> None:
    assert all(available("ru", k) for k in SPEC_TEMPLATES)


def test_ru_is_filled_with_the_spec_placeholders() -> None:
    out = render("order_ready_for_pickup", "ru", VALUES)
    assert out.locale == "ru" and out.fallback_from is None
    assert out.subject == "Заказ A1B2C3D4 готов к выдаче"
    assert "Айгуль" in out.body and "Дордой, ряд 5" in out.body and "https://bazaar.kg/o/1" \
        in out.body and "04.03.2031 10:00" in out.body
    assert "Дордой, ряд 5" in out.short


def test_en_is_written() -> None:
    out = render("order_ready_for_pickup", "en", VALUES)
    assert out.locale == "en" and out.subject == "Order A1B2C3D4 is ready for pickup"


@pytest.mark.parametrize("locale", ["ky", "zh", "kk", "uz", "fr"])
def test_unwritten_or_unknown_locale_falls_back_to_ru_and_says_so(locale: str) -> None:
    out = render("order_created", locale, VALUES)
    assert out.locale == "ru" and out.fallback_from == locale
    assert out.subject == "Заказ A1B2C3D4 оформлен"


def test_unknown_template_is_a_failure_with_a_reason() -> None:
    with pytest.raises(TemplateFailure, match="unknown template 'order_teleported'"):
        render("order_teleported", "ru", VALUES)
    with pytest.raises(TemplateFailure, match="unknown template"):
        render("../../etc/passwd", "ru", VALUES)


def test_missing_placeholder_is_a_failure_naming_it() -> None:
    values = {k: v for k, v in VALUES.items() if k != "pickupPoint"}
    with pytest.raises(TemplateFailure, match="missing placeholder in order_ready_for_pickup: "
                                              "'pickupPoint' is undefined"):
        render("order_ready_for_pickup", "ru", values)
