"""Notifications (seed 000 §25): platform events reach the right person once, on the right
channel, in their language.

    domain (orders, pos, moderation…) ──emit()──▶ outbox ─▶ notify.* (Kafka, Avro)
        ─▶ worker: recipients, preferences, dedup ─▶ notification_log (the queue)
        ─▶ dispatcher: quiet hours, rate limit, template, provider ─▶ push | email | sms
        ◀─ provider status webhook (delivered / failed) ─ POST /notifications/webhook/{p}

Modules, one job each: `catalog` (types, categories, priorities), `events` (what domains
call), `preferences`, `addresses` (sealed), `templates` (jinja2, i18n), `channels`
(provider interfaces, SMTP, simulators), `log` (the delivery log and retry queue),
`dispatch` (one attempt), `signing` (webhooks, unsubscribe links), `worker` (the service).
"""
