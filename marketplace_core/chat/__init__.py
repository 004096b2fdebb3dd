"""Buyer–seller chat (seed 000 §3.4, §3.10, §4; issue 13 §2).

    buyer / seller ──REST──▶ service: conversations, messages (per-conversation sequence),
        read receipts, attachments (media uploads), blocks, reports, anti-spam policy
        ├─ notify.chat (outbox) ─▶ notifications worker ─▶ chat_new_message
        ├─ NOTIFY chat_live ─▶ every API process ─▶ WebSocket /chat/live (api/live.py)
        └─ chat_started (sweep) ─▶ analytics.raw ─▶ lake ─▶ shop_engagement_daily.chats

Modules, one job each: `service` (the rules and the tables), `policy` (rate limits,
repeats, stop words, from the settings), `live` (what the live channel is told),
`notifications` (notify.chat and the worker's placeholders), `analytics` (chat_started).
"""
