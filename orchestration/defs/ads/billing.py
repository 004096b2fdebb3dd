"""Ad billing from the lake: settle every campaign's recent days to what `ad_event_daily`
says they owe (spend after the invalid-traffic rules), through the ads module's own
`billing.settle` (ARCHITECTURE: results flow back to the core only through its functions).

One run = one watermark: the newest landed ad event the mart includes
(`max(_ingested_through)`), the same for every campaign-day of the run. Each settlement is
one transaction, idempotent on (campaign, day, watermark), so a run killed at any point and
run again charges nothing twice, and a later run charges or credits only the difference.

    python -m orchestration.defs.ads.billing      # one run now, a summary on stdout
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx

from infra.settings import get_settings


@dataclass(frozen=True)
class OwedDay:
    campaign_id: UUID
    day: date
    spend: Decimal


@dataclass
class BillingRun:
    through: datetime | None
    days: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    charged: Decimal = Decimal("0.00")
    credited: Decimal = Decimal("0.00")
    refused: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"through": self.through.isoformat() if self.through else None,
                "campaign_days": self.days, "outcomes": dict(self.outcomes),
                "charged": str(self.charged), "credited": str(self.credited),
                "refused": self.refused}


def read_owed() -> tuple[list[OwedDay], datetime | None]:
    """The mart's campaign-days and the watermark, read through the serving API (the
    process that owns the warehouse)."""
    s = get_settings()
    r = httpx.get(f"{s.serving_api_url}/internal/marts/ad_event_daily",
                  headers={"X-Internal-Token": s.internal_token}, timeout=600)
    r.raise_for_status()
    rows: list[dict[str, Any]] = r.json()["rows"]
    marks = [datetime.fromisoformat(row["_ingested_through"]) for row in rows]
    through = max(marks, default=None)
    if through is not None and through.tzinfo is None:
        from datetime import UTC

        through = through.replace(tzinfo=UTC)
    owed = [OwedDay(UUID(row["campaign_id"]), date.fromisoformat(row["date"]),
                    Decimal(row["spend"])) for row in rows]
    return owed, through


def bill(owed: list[OwedDay], through: datetime | None) -> BillingRun:
    """Settle each campaign-day of the lookback window to its spend at `through`."""
    from marketplace_core.ads import billing, wallet
    from marketplace_core.db import connect
    from marketplace_core.errors import DomainError

    run = BillingRun(through)
    if through is None:
        return run
    oldest = wallet.today() - timedelta(days=get_settings().ads_billing_lookback_days)
    with connect() as conn:
        conn.autocommit = True  # each settle() is its own transaction
        for row in sorted(owed, key=lambda r: (r.day, str(r.campaign_id))):
            if row.day < oldest:
                continue
            run.days += 1
            try:
                done = billing.settle(conn, row.campaign_id, row.day, row.spend, through)
            except DomainError as exc:  # an unknown campaign, a day outside its run
                run.outcomes["refused"] += 1
                run.refused.append(f"{row.campaign_id} {row.day}: {exc.code}")
                continue
            run.outcomes[done.outcome] += 1
            if done.outcome in ("charged", "credited"):
                run.charged += done.charged
                run.credited += done.credited
    return run


def main(argv: list[str] | None = None) -> int:
    owed, through = read_owed()
    print(json.dumps(bill(owed, through).summary(), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
