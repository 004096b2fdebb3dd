"""Stop-word screening of user text (ru and ky lists beside this module).

Text and terms are compared after the same normalisation: lower case, ё → е, Latin
look-alike letters → Cyrillic (a → а, o → о, ...), separators inside a word dropped
("с.п-а_м" → "спам"), runs of spaced single letters joined ("к а з и н о" → "казино"), and
repeated letters collapsed ("казииино" → "казино"). A term matches a word that starts with
it (terms are stems: "мошенни" matches "мошенники"); terms written as one word may also
match across the whole squashed text when they are long enough (≥ 8 letters), which
catches "за работок без вложений".

`screen(text)` answers "ok", "flag" (hold for an admin) or "reject" (refuse outright).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Literal

Verdict = Literal["ok", "flag", "reject"]
LISTS = ("ru", "ky")
_DIR = Path(__file__).parent / "stopword_lists"
_LOOKALIKE = str.maketrans({"a": "а", "o": "о", "e": "е", "p": "р", "c": "с", "x": "х",
                            "y": "у", "k": "к", "m": "м", "t": "т", "h": "н", "b": "в",
                            "3": "з", "0": "о", "ё": "е", "@": "а"})
_SEPARATORS = re.compile(r"[\.\-_\*'\"`~|/\\,+!?]+")
_SQUASH_MIN = 8


def _collapse(word: str) -> str:
    return re.sub(r"(.)\1+", r"\1", word)


def normalise_words(text: str) -> list[str]:
    t = unicodedata.normalize("NFKC", text).lower().translate(_LOOKALIKE)
    t = _SEPARATORS.sub("", t)
    words = [w for w in re.split(r"\s+", t) if w]
    joined: list[str] = []
    run: list[str] = []
    for w in words:  # "к а з и н о" → "казино"
        if len(w) == 1:
            run.append(w)
            continue
        if run:
            joined.append("".join(run))
            run = []
        joined.append(w)
    if run:
        joined.append("".join(run))
    return [_collapse(re.sub(r"[^\w]", "", w)) for w in joined if re.sub(r"[^\w]", "", w)]


@cache
def terms() -> dict[str, Verdict]:
    """Normalised term → verdict, from every list (a term in both keeps the harsher)."""
    out: dict[str, Verdict] = {}
    for lang in LISTS:
        for raw in (_DIR / f"{lang}.txt").read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            verdict, _, term = line.partition(" ")
            if verdict not in ("flag", "reject"):
                raise ValueError(f"stopword_lists/{lang}.txt: bad line {raw!r}")
            norm = "".join(normalise_words(term))
            if out.get(norm) != "reject":
                out[norm] = "reject" if verdict == "reject" else "flag"
    return out


def screen(text: str) -> tuple[Verdict, list[str]]:
    """The verdict for `text` and the terms that matched."""
    words = normalise_words(text)
    squashed = "".join(words)
    hits: dict[str, Verdict] = {}
    for term, verdict in terms().items():
        if any(w.startswith(term) for w in words) or (
                len(term) >= _SQUASH_MIN and term in squashed):
            hits[term] = verdict
    if not hits:
        return "ok", []
    worst: Verdict = "reject" if "reject" in hits.values() else "flag"
    return worst, sorted(hits)
