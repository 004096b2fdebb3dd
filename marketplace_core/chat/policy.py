"""The chat's anti-spam and abuse policy (seed 000 §3.10, §13: "антиспам/лимиты в чате"),
read from the settings once per process and replaceable in tests (`set_policy`).

    rate        messages per account: a token bucket (marketplace_core.ratelimit, shared by
                every API process) → 429 CHAT_RATE_LIMITED with Retry-After
    opening     new conversations per account: another bucket → 429 CHAT_RATE_LIMITED
    repeats     the same normalised text from one account more than `repeat_max` times
                within `repeat_window`, in any conversation → 429 CHAT_REPEATED_TEXT
    stop words  the social domain's moderation lists (ru, ky: `flag` holds for a moderator,
                `reject` refuses) and CHAT_STOPWORDS_EXTRA (refused) → 422 CHAT_STOP_WORDS;
                a flagged message is delivered and a report opened for the moderators
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from infra.settings import get_settings
from marketplace_core.social import stopwords

Verdict = Literal["ok", "flag", "reject"]


@dataclass(frozen=True)
class ChatPolicy:
    messages_per_second: float
    message_burst: int
    conversations_per_second: float
    conversation_burst: int
    repeat_max: int
    repeat_window: timedelta
    use_social_lists: bool = True
    extra_stopwords: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls) -> ChatPolicy:
        s = get_settings()
        extra = tuple(t.strip() for t in s.chat_stopwords_extra.split(",") if t.strip())
        return cls(
            messages_per_second=s.chat_messages_per_minute / 60.0,
            message_burst=s.chat_message_burst,
            conversations_per_second=s.chat_conversations_per_hour / 3600.0,
            conversation_burst=s.chat_conversation_burst,
            repeat_max=s.chat_repeat_max,
            repeat_window=timedelta(seconds=s.chat_repeat_window_seconds),
            use_social_lists=s.chat_stopwords_use_social_lists,
            extra_stopwords=extra,
        )

    def screen(self, text: str) -> tuple[Verdict, list[str]]:
        """The stop-word verdict for a message and the terms that matched (the same
        normalisation as the social filter: case, look-alike letters, separators, spaced
        and repeated letters)."""
        verdict: Verdict = "ok"
        hits: list[str] = []
        if self.use_social_lists:
            verdict, hits = stopwords.screen(text)
        if self.extra_stopwords:
            words = stopwords.normalise_words(text)
            squashed = "".join(words)
            for term in self.extra_stopwords:
                norm = "".join(stopwords.normalise_words(term))
                if norm and (any(w.startswith(norm) for w in words) or norm in squashed):
                    hits.append(norm)
                    verdict = "reject"
        return verdict, sorted(set(hits))


_policy: ChatPolicy | None = None


def policy() -> ChatPolicy:
    global _policy
    if _policy is None:
        _policy = ChatPolicy.from_settings()
    return _policy


def set_policy(value: ChatPolicy | None) -> None:
    """Replace the process's policy (tests); None reads the settings again."""
    global _policy
    _policy = value


def text_hash(text: str) -> str:
    """What makes two texts "the same" for the repeat rule: case and spacing ignored."""
    norm = " ".join(text.lower().split())
    return hashlib.sha256(norm.encode()).hexdigest()[:32]
