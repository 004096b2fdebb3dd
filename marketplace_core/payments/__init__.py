"""Payments: the PSP interface and its simulator, the idempotent PSP webhook, instant
payouts, full refunds, the platform's take rate and the double-entry ledger."""
