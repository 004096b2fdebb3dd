"""Templates: all six locales written, each with exactly ru's placeholders; a locale that is
not written falls back to ru (and says so); an unknown template or a missing placeholder is
a failure with a reason, never a crash."""

from __future__ import annotations

import itertools
import re

import pytest
from jinja2 import meta, nodes

from marketplace_core.notifications import templates
from marketplace_core.notifications.catalog import LOCALES, TYPES
from marketplace_core.notifications.templates import (
    TEMPLATE_DIR,
    WRITTEN_LOCALES,
    TemplateFailure,
    available,
    render,
)

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


def test_unknown_locale_falls_back_to_ru_and_says_so() -> None:
    out = render("order_created", "fr", VALUES)
    assert out.locale == "ru" and out.fallback_from == "fr"
    assert out.subject == "Заказ A1B2C3D4 оформлен"


def test_a_locale_not_marked_written_falls_back_to_ru(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "WRITTEN_LOCALES", ("ru", "en"))
    out = render("order_created", "ky", VALUES)
    assert out.locale == "ru" and out.fallback_from == "ky"


def test_every_catalog_locale_is_written() -> None:
    assert set(WRITTEN_LOCALES) == set(LOCALES)


@pytest.mark.parametrize(("locale", "subject"), [
    ("ky", "A1B2C3D4 буйрутмасы кабыл алынды"),
    ("kk", "A1B2C3D4 тапсырысы рәсімделді"),
    ("uz", "A1B2C3D4 buyurtmasi rasmiylashtirildi"),
    ("zh", "订单 A1B2C3D4 已提交"),
])
def test_the_new_locales_render_their_own_text(locale: str, subject: str) -> None:
    out = render("order_created", locale, VALUES)
    assert out.locale == locale and out.fallback_from is None and out.subject == subject


# ---- every template in every written locale, against ru's placeholders ----

KEYS = sorted(p.stem for p in (TEMPLATE_DIR / "ru").glob("*.j2"))
SAMPLES = {**VALUES, "senderName": "Бермет", "preview": "Здравствуйте!", "deviceId": "POS-7",
           "minutes": "10", "details": "SKU-1: 3 ≠ 5", "reportDate": "03.03.2031",
           "revenue": "12500.00", "orders": "7", "receipts": "41", "change": "+35%"}
# each branch of the templates' conditions and lookups
BRANCHES = {"audience": ("user", "shop"), "entityType": ("post", "product"),
            "reasonCode": ("auto_filter", "reports"), "metric": ("revenue", "visits"),
            "shopName": ("Бермет", "")}


def _source(locale: str, key: str) -> str:
    return (TEMPLATE_DIR / locale / f"{key}.j2").read_text(encoding="utf-8")


def _placeholders(locale: str, key: str) -> set[str]:
    return meta.find_undeclared_variables(templates._env().parse(_source(locale, key)))


def _lookup_keys(locale: str, key: str) -> list[list[str]]:
    """The keys of every dict literal (e.g. {"revenue": ..., "visits": ...}[metric])."""
    tree = templates._env().parse(_source(locale, key))
    return sorted(sorted(str(pair.key.as_const()) for pair in d.items)
                  for d in tree.find_all(nodes.Dict))


def _statements(locale: str, key: str) -> list[str]:
    """The {% ... %} tags (conditions, blocks), order-free: word order differs by language."""
    return sorted(re.findall(r"\{%.*?%\}", _source(locale, key)))


def _value_sets(placeholders: set[str]) -> list[dict[str, str]]:
    varied = sorted(p for p in placeholders if p in BRANCHES)
    return [{**{p: SAMPLES[p] for p in placeholders if p not in BRANCHES},
             **dict(zip(varied, combo, strict=True))}
            for combo in itertools.product(*(BRANCHES[p] for p in varied))]


def test_ru_has_the_thirteen_templates() -> None:
    assert len(KEYS) == 13


@pytest.mark.parametrize("locale", WRITTEN_LOCALES)
@pytest.mark.parametrize("key", KEYS)
def test_every_template_renders_in_every_written_locale(locale: str, key: str) -> None:
    ru_placeholders = _placeholders("ru", key)
    assert available(locale, key)
    for values in _value_sets(ru_placeholders):
        out = render(key, locale, values)
        assert out.locale == locale and out.fallback_from is None
        assert out.subject and out.body and out.short
        assert "{{" not in out.body + out.subject + out.short
        if locale != "ru":
            assert out.body != render(key, "ru", values).body  # really translated


@pytest.mark.parametrize("locale", [loc for loc in WRITTEN_LOCALES if loc != "ru"])
@pytest.mark.parametrize("key", KEYS)
def test_every_locale_uses_exactly_the_ru_placeholders(locale: str, key: str) -> None:
    assert _placeholders(locale, key) == _placeholders("ru", key)
    if locale != "en":  # en writes {{ metric }} bare instead of ru's lookup
        assert _lookup_keys(locale, key) == _lookup_keys("ru", key)
        assert set(_statements(locale, key)) == set(_statements("ru", key))


@pytest.mark.parametrize("locale", WRITTEN_LOCALES)
def test_no_locale_has_a_template_ru_lacks(locale: str) -> None:
    assert sorted(p.stem for p in (TEMPLATE_DIR / locale).glob("*.j2")) == KEYS


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
