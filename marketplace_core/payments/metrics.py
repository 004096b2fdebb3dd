"""Payment metrics (seed 000 §19: alerts on payout errors).

Counted in the process that moves the money (the core API: PSP webhooks capture payments
and pay sellers in the same transaction). A payout that raises rolls the capture back and
the PSP retries its webhook, so failures show here as a rate, not as rows in a table.
"""

from __future__ import annotations

from prometheus_client import Counter

PAYOUTS = Counter("payouts", "Instant payouts attempted, by result (sent, failed).",
                  ["result"])
PAYOUT_FAILURES = Counter("payout_failures",
                          "Instant payouts that raised, by exception class.", ["error"])
PSP_REFUSALS = Counter("psp_refusals", "Operations the payment provider refused.",
                       ["operation"])
