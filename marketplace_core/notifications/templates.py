"""Templates (seed 000 §25.5), rendered with jinja2 under StrictUndefined.

One file per locale and template, `templates/<locale>/<key>.j2`, with three blocks:
`subject` (e-mail subject, push title), `body` (e-mail text) and `short` (push and SMS
text). Placeholders are the spec's camelCase names: `userName`, `orderId`, `pickupPoint`,
`shopName`, `ts`, `ctaUrl` (plus a few per template, e.g. `deviceId`, `reason`).

Locales: all six of the catalog (ru, ky, en, zh, kk, uz) are written, 13 templates each,
with the same placeholders as ru (tests/core/notifications/test_templates.py checks it).
A locale that is not written, or lacks a template, renders ru and the result says so
(`fallback_from`), which the dispatcher logs; a locale nobody has (say "fr") does the same.
A template that does not exist, or a placeholder the event did not carry, is a
`TemplateFailure` with a reason: the notification is logged failed, the worker goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from marketplace_core.notifications.catalog import DEFAULT_LOCALE

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
WRITTEN_LOCALES = ("ru", "ky", "en", "zh", "kk", "uz")


class TemplateFailure(Exception):
    """The notification cannot be rendered; `reason` is safe to log (no values)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    short: str
    locale: str
    fallback_from: str | None = None  # the locale asked for, when another was used


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text: e-mail text part, push and SMS
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def available(locale: str, key: str) -> bool:
    return (TEMPLATE_DIR / locale / f"{key}.j2").is_file()


def render(key: str, locale: str, values: dict[str, Any]) -> Rendered:
    if not key.replace("_", "").isalnum() or not available(DEFAULT_LOCALE, key):
        raise TemplateFailure(f"unknown template {key!r}")
    use = locale if locale in WRITTEN_LOCALES and available(locale, key) else DEFAULT_LOCALE
    template = _env().get_template(f"{use}/{key}.j2")
    context = template.new_context(dict(values))
    try:
        parts = {name: "".join(template.blocks[name](context)).strip()
                 for name in ("subject", "body", "short")}
    except jinja2.UndefinedError as exc:
        # jinja's message names the placeholder ("'orderId' is undefined"), never a value.
        raise TemplateFailure(f"missing placeholder in {key}: {exc.message}") from None
    except KeyError as exc:
        raise TemplateFailure(f"template {use}/{key} lacks the block {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateFailure(f"template {use}/{key} failed: {type(exc).__name__}") from None
    return Rendered(parts["subject"], parts["body"], parts["short"], use,
                    None if use == locale else locale)
