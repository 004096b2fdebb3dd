"""Buyer-visible text in several languages: ru is required, the others are optional.

The catalog stores one column per language (`name_ru`, `name_ky`, ...); the API shows
them as `{"ru": ..., "ky": ...}` objects. A reader picks one language and falls back to
Russian where a translation is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

from marketplace_core.errors import ErrorCode, ValidationError

# ISO 639-1 codes, in the order the spec introduces them (ru first: always present).
LANGUAGES: tuple[str, ...] = ("ru", "ky", "en", "zh", "kk", "uz")
DEFAULT_LANGUAGE = "ru"
# The spec writes kg, kz, uzb; people and browsers may too.
_ALIASES = {"kg": "ky", "kz": "kk", "uzb": "uz", "kir": "ky", "kaz": "kk", "rus": "ru"}

Texts = dict[str, str | None]
"""One text per language code; None = no translation."""


def normalize_language(code: str) -> str | None:
    """The supported language a tag names ("ky-KG" → "ky", "kz" → "kk"), or None."""
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    base = _ALIASES.get(base, base)
    return base if base in LANGUAGES else None


def require_language(code: str) -> str:
    """An explicitly requested language; raises INVALID_LANGUAGE if it is not supported."""
    lang = normalize_language(code)
    if lang is None:
        raise ValidationError(
            ErrorCode.INVALID_LANGUAGE,
            f"language {code!r} is not supported; use one of {', '.join(LANGUAGES)}")
    return lang


def language_from_accept(header: str | None) -> str:
    """The best supported language of an Accept-Language header (ru if none fits)."""
    if not header:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        lang = normalize_language(tag) if tag and tag != "*" else None
        if lang is not None and quality > 0:
            ranked.append((-quality, position, lang))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def choose_language(lang: str | None, accept_language: str | None) -> str:
    """`?lang=` wins (and must be supported); otherwise the Accept-Language header."""
    if lang:
        return require_language(lang)
    return language_from_accept(accept_language)


def clean_text(value: str | None) -> str | None:
    """Surrounding whitespace removed; blank text counts as no translation."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "translations must be text")
    value = value.strip()
    return value or None


def validate_texts(
    texts: Mapping[str, str | None], field: str, *, require_ru: bool = False,
    keep_ru: bool = False,
) -> Texts:
    """Known language keys only, cleaned values.

    `require_ru`: ru must be given (a new name); `keep_ru`: a change may leave ru out but
    may not blank it (a name always has its Russian text).
    """
    unknown = sorted(set(texts) - set(LANGUAGES))
    if unknown:
        raise ValidationError(
            ErrorCode.INVALID_LANGUAGE,
            f"{field}: unsupported language(s) {', '.join(unknown)}; "
            f"use {', '.join(LANGUAGES)}")
    cleaned = {lang: clean_text(value) for lang, value in texts.items()}
    if require_ru and not cleaned.get("ru"):
        raise ValidationError(ErrorCode.TRANSLATION_REQUIRED, f"{field}: ru is required")
    if keep_ru and "ru" in cleaned and cleaned["ru"] is None:
        # a change may leave other languages alone, but never remove the Russian text
        raise ValidationError(ErrorCode.TRANSLATION_REQUIRED, f"{field}: ru cannot be removed")
    return cleaned


def pick(texts: Mapping[str, str | None], lang: str) -> str | None:
    """The text in `lang`, else the Russian one."""
    return texts.get(lang) or texts.get(DEFAULT_LANGUAGE)


def columns(prefix: str) -> list[str]:
    """The column names of a translated field, e.g. name_ru, name_ky, ..."""
    return [f"{prefix}_{lang}" for lang in LANGUAGES]
