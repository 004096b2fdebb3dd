"""User text: captions and comments (length, control characters) and hashtags."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from marketplace_core.errors import ErrorCode, ValidationError

MAX_CAPTION = 2200
MAX_COMMENT = 2200
MAX_TAGS = 30
MAX_TAG_LENGTH = 64
# a hashtag: '#' then letters, digits or '_' (any script: Cyrillic, Kyrgyz letters...)
_HASHTAG = re.compile(r"(?<![\w#])#(\w{1,64})", re.UNICODE)
_ALLOWED_CONTROL = {"\n", "\t"}


def clean_text(value: str | None, *, limit: int, field: str, required: bool = False) -> str:
    """Normalised text (NFC, CRLF → LF, trimmed) or raises CAPTION_TOO_LONG / INVALID_TEXT.

    Control characters other than newline and tab are refused (they hide text, break
    terminals and exports); format characters such as the zero-width joiner of emoji stay.
    """
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n")).strip()
    for ch in text:
        # a lone surrogate (JSON "\ud800") cannot be encoded for PostgreSQL: a 500 before
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and ch not in _ALLOWED_CONTROL):
            raise ValidationError(ErrorCode.INVALID_TEXT,
                                  f"{field} contains a control character U+{ord(ch):04X}")
    if len(text) > limit:
        raise ValidationError(ErrorCode.CAPTION_TOO_LONG,
                              f"{field} is {len(text)} characters; at most {limit}")
    if required and not text:
        raise ValidationError(ErrorCode.INVALID_TEXT, f"{field} must not be empty")
    return text


def normalise_tag(tag: str) -> str:
    t = unicodedata.normalize("NFC", tag).strip().lstrip("#").lower()
    if not t or len(t) > MAX_TAG_LENGTH or not re.fullmatch(r"\w+", t):
        raise ValidationError(ErrorCode.INVALID_ARGUMENT,
                              f"tag {tag!r} must be 1-{MAX_TAG_LENGTH} letters, digits or _")
    return t


def parse_hashtags(text: str) -> list[str]:
    return [m.group(1).lower() for m in _HASHTAG.finditer(text)]


def collect_tags(text: str, explicit: Iterable[str]) -> list[str]:
    """Hashtags of the text plus the explicit tags: lower-cased, without '#', unique in
    first-seen order; more than 30 → TOO_MANY_TAGS."""
    out: list[str] = []
    for tag in [*parse_hashtags(text), *explicit]:
        t = normalise_tag(tag)
        if t not in out:
            out.append(t)
    if len(out) > MAX_TAGS:
        raise ValidationError(ErrorCode.TOO_MANY_TAGS,
                              f"{len(out)} tags; at most {MAX_TAGS} per post")
    return out
