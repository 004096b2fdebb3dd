"""Charging campaigns and crediting invalid traffic: the wallet's two entry points for the
later billing job (issue 12 §3), which computes what each campaign owes per day from the
lake and posts it here (service function; no HTTP route yet).

`charge(campaign, day, amount, idempotency_key)`:
- exactly once per (campaign, Asia/Bishkek day) and per idempotency key: the same key with
  the same campaign, day and amount returns the stored charge (`replayed=True`, nothing
  posted again); the key reused for anything else is 409 IDEMPOTENCY_KEY_REUSED; another
  key for a day already charged is 409 AD_CHARGE_CONFLICT;
- only for a day inside the campaign's schedule, not in the future (422
  AD_INVALID_PERIOD), during which the campaign was active at some moment (409
  AD_CAMPAIGN_NOT_BILLABLE: a draft, a campaign in review or one paused all day is never
  charged, whatever clicks were counted);
- NEVER OVERDRAWS, by capping: charged = min(requested, daily budget, total budget left,
  the campaign's hold + the wallet's free money). `capped_by` says which limit bit
  (daily_budget | total_budget | wallet); the uncharged rest is the platform's loss
  (delivery beyond a budget or beyond the money is not billed). The money comes from the
  campaign's hold first, then from the free part. The ledger's never-negative accounts
  refuse any overdraft underneath (LEDGER_OVERDRAWN), so even a bug here cannot overdraw.
- afterwards: a spent total budget moves the campaign to `budget_spent`; an active
  campaign's hold is refilled (or it is paused, `insufficient_funds`, when nothing is
  left); an `ad_campaign.charged` event carries the amount.

`credit_invalid_traffic(charge, amount, idempotency_key, reason)`: gives back part of a
charge (at most what is left of it: 422 AD_CREDIT_EXCEEDS_CHARGE) to the wallet's free
money and lowers the campaign's `spent`; idempotent on the key like a charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from infra.settings import get_settings
from marketplace_core import audit
from marketplace_core.ads import campaigns, wallet
from marketplace_core.audit.log import Actor
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)
from marketplace_core.payments import ledger
from marketplace_core.social.text import clean_text
from platform_common.money import CENT, MAX_AMOUNT


@dataclass(frozen=True)
class Charge:
    id: UUID
    campaign_id: UUID
    merchant_id: UUID
    day: date
    idempotency_key: str
    requested: Decimal
    charged: Decimal
    from_hold: Decimal
    capped_by: str | None
    credited: Decimal
    journal_entry_id: UUID | None
    created_at: datetime
    replayed: bool = False


_COLS = ("id, campaign_id, merchant_id, day, idempotency_key, requested, charged, from_hold,"
         " capped_by, credited, journal_entry_id, created_at")


def _key(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 200 or not value.isprintable():
        raise ValidationError(ErrorCode.INVALID_ARGUMENT,
                              "idempotency_key is 1-200 printable characters")
    return value


def _one(conn: Connection, where: str, params: tuple[Any, ...]) -> Charge | None:
    with conn.cursor(row_factory=class_row(Charge)) as cur:
        return cur.execute(f"select {_COLS} from ad_charges where {where}".encode(),
                           params).fetchone()


def get_charge(conn: Connection, charge_id: UUID) -> Charge:
    found = _one(conn, "id = %s", (charge_id,))
    if found is None:
        raise NotFoundError(ErrorCode.AD_CHARGE_NOT_FOUND, f"charge {charge_id} does not exist")
    return found


def charges_of(conn: Connection, campaign_id: UUID) -> list[Charge]:
    with conn.cursor(row_factory=class_row(Charge)) as cur:
        return cur.execute(f"select {_COLS} from ad_charges where campaign_id = %s"
                           " order by day".encode(), (campaign_id,)).fetchall()


def charge(conn: Connection, campaign_id: UUID, day: date, amount: Decimal,
           idempotency_key: str, *, now: datetime | None = None) -> Charge:
    """Charge a campaign for one day (see the module doc). Raises AD_CAMPAIGN_NOT_FOUND,
    AD_INVALID_AMOUNT, AD_INVALID_PERIOD, AD_CAMPAIGN_NOT_BILLABLE, AD_CHARGE_CONFLICT,
    IDEMPOTENCY_KEY_REUSED."""
    at = now or datetime.now(UTC)
    key = _key(idempotency_key)
    requested = wallet.validate_amount(amount, CENT,
                                       get_settings().policy.ads_max_daily_budget, "amount")
    if not isinstance(day, date) or isinstance(day, datetime):
        raise ValidationError(ErrorCode.AD_INVALID_PERIOD, "day is a date (Asia/Bishkek)")
    with conn.transaction():
        c = campaigns.get_campaign(conn, campaign_id, lock=True)
        previous = _one(conn, "idempotency_key = %s", (key,))
        if previous is not None:
            if (previous.campaign_id, previous.day, previous.requested) != (c.id, day, requested):
                raise ConflictError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                                    "this idempotency key was used for another charge")
            return _replayed(previous)
        if _one(conn, "campaign_id = %s and day = %s", (c.id, day)) is not None:
            raise ConflictError(ErrorCode.AD_CHARGE_CONFLICT,
                                f"campaign {c.id} is already charged for {day}")
        if not c.start_date <= day <= c.end_date or day > wallet.today(at):
            raise ValidationError(ErrorCode.AD_INVALID_PERIOD,
                                  f"{day} is outside the campaign's run so far")
        start = wallet.day_start(day)
        if not campaigns.was_active_during(conn, c.id, start, start + timedelta(days=1)):
            raise ConflictError(ErrorCode.AD_CAMPAIGN_NOT_BILLABLE,
                                f"the campaign was not active on {day}: nothing to charge")
        return _post_charge(conn, c, day, requested, key, None, at)


def _post_charge(conn: Connection, c: campaigns.Campaign, day: date, requested: Decimal,
                 key: str, through: datetime | None, at: datetime) -> Charge:
    """Post a charge of a locked campaign, capped (see the module doc); the day's earlier
    charges (net of credits) count against its daily budget."""
    wallet.lock_wallet(conn, c.merchant_id)
    funds = wallet.balance(conn, c.merchant_id)
    day_row = conn.execute("select coalesce(sum(charged - credited), 0) from ad_charges"
                           " where campaign_id = %s and day = %s", (c.id, day)).fetchone()
    charged_today = day_row[0] if day_row else Decimal("0.00")
    # never more than the campaign's hold plus the free money (the hold is part of
    # the wallet's held money, so this never exceeds the wallet's total)
    limits = [("daily_budget", c.daily_budget - charged_today),
              ("total_budget", c.total_budget - c.spent),
              ("wallet", min(c.held, funds.held) + funds.available)]
    charged, capped_by = requested, None
    for name, limit in limits:
        if limit < charged:
            charged, capped_by = max(limit, Decimal("0.00")), name
    from_hold = min(charged, c.held, funds.held)
    from_free = charged - from_hold
    entry = None
    if charged > 0:
        entry = ledger.post(conn, "ad_charge", [
            ledger.debit(ledger.ad_hold(c.merchant_id), from_hold),
            ledger.debit(ledger.ad_wallet(c.merchant_id), from_free),
            ledger.credit(ledger.ADS_REVENUE, charged),
        ], memo=f"campaign {c.id} {day}", created_at=at)
    with conn.cursor(row_factory=class_row(Charge)) as cur:
        row = cur.execute(
            "insert into ad_charges (campaign_id, merchant_id, day, idempotency_key,"
            " requested, charged, from_hold, capped_by, journal_entry_id, created_at,"
            " through) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" returning {_COLS}".encode(),
            (c.id, c.merchant_id, day, key, requested, charged, from_hold, capped_by,
             entry, at, through)).fetchone()
    assert row is not None
    c = campaigns.update_money(conn, c.id, spent=c.spent + charged,
                               held=c.held - from_hold, updated_at=at)
    if charged > 0:
        campaigns.emit_charged(conn, c, "ad_campaign.charged", charged)
    campaigns.after_charge(conn, c, at=at)
    return row


def _replayed(found: Charge) -> Charge:
    return Charge(**{**found.__dict__, "replayed": True})


@dataclass(frozen=True)
class Credit:
    id: UUID
    charge_id: UUID
    campaign_id: UUID
    amount: Decimal
    reason: str
    created_at: datetime
    replayed: bool = False


def credit_invalid_traffic(conn: Connection, charge_id: UUID, amount: Decimal,
                           idempotency_key: str, reason: str, *, actor: Actor | None = None,
                           now: datetime | None = None) -> Credit:
    """Give back `amount` of a charge for invalid traffic (see the module doc). Raises
    AD_CHARGE_NOT_FOUND, AD_INVALID_AMOUNT, AD_CREDIT_EXCEEDS_CHARGE,
    IDEMPOTENCY_KEY_REUSED, INVALID_TEXT."""
    at = now or datetime.now(UTC)
    key = _key(idempotency_key)
    value = wallet.validate_amount(amount, CENT, MAX_AMOUNT, "amount")
    why = clean_text(reason, limit=500, field="reason", required=True)
    with conn.transaction():
        found = get_charge(conn, charge_id)
        c = campaigns.get_campaign(conn, found.campaign_id, lock=True)
        previous = conn.execute(
            "select id, charge_id, campaign_id, amount, reason, created_at from ad_credits"
            " where idempotency_key = %s", (key,)).fetchone()
        if previous is not None:
            if (previous[1], previous[3]) != (charge_id, value):
                raise ConflictError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                                    "this idempotency key was used for another credit")
            return Credit(id=previous[0], charge_id=previous[1], campaign_id=previous[2],
                          amount=previous[3], reason=previous[4], created_at=previous[5],
                          replayed=True)
        locked = conn.execute("select charged - credited from ad_charges where id = %s"
                              " for update", (charge_id,)).fetchone()
        assert locked is not None
        if value > locked[0]:
            raise ValidationError(ErrorCode.AD_CREDIT_EXCEEDS_CHARGE,
                                  f"at most {locked[0]} KGS of this charge can be credited")
        return _post_credit(conn, c, found.day, charge_id, value, key, why, actor, None, at)


def _post_credit(conn: Connection, c: campaigns.Campaign, day: date, charge_id: UUID,
                 value: Decimal, key: str, why: str, actor: Actor | None,
                 through: datetime | None, at: datetime) -> Credit:
    """Give `value` of a locked charge back to the wallet's free money."""
    wallet.lock_wallet(conn, c.merchant_id)
    entry = ledger.post(conn, "ad_credit", [
        ledger.debit(ledger.ADS_REVENUE, value),
        ledger.credit(ledger.ad_wallet(c.merchant_id), value),
    ], memo=f"invalid traffic, campaign {c.id} {day}", created_at=at)
    row = conn.execute(
        "insert into ad_credits (charge_id, campaign_id, merchant_id, idempotency_key,"
        " amount, reason, journal_entry_id, created_by, created_at, through) values"
        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " returning id, charge_id, campaign_id, amount, reason, created_at",
        (charge_id, c.id, c.merchant_id, key, value, why, entry,
         actor.id if actor else None, at, through)).fetchone()
    assert row is not None
    conn.execute("update ad_charges set credited = credited + %s where id = %s",
                 (value, charge_id))
    c = campaigns.update_money(conn, c.id, spent=c.spent - value, updated_at=at)
    campaigns.emit_charged(conn, c, "ad_campaign.credited", value)
    audit.record(conn, actor, "ads.wallet.credit", "ad_charge", charge_id,
                 {"amount": str(value), "reason": why})
    return Credit(*row)


# --- settling a day from the lake (the billing job) -------------------------------------

@dataclass(frozen=True)
class Settlement:
    campaign_id: UUID
    day: date
    through: datetime
    owed: Decimal
    previous_owed: Decimal
    charged: Decimal  # posted now (after caps)
    credited: Decimal  # given back now
    outcome: str  # charged | credited | unchanged | replayed | stale | not_billable


def settled_owed(conn: Connection, campaign_id: UUID, day: date
                 ) -> tuple[Decimal, datetime | None]:
    """What a campaign-day's charges stand for now: the latest window's owed and through."""
    row = conn.execute(
        "select owed, through from ad_billing_windows where campaign_id = %s and day = %s"
        " order by through desc limit 1", (campaign_id, day)).fetchone()
    return (row[0], row[1]) if row else (Decimal("0.00"), None)


def settle(conn: Connection, campaign_id: UUID, day: date, owed: Decimal, through: datetime,
           *, now: datetime | None = None) -> Settlement:
    """Bring a campaign's Asia/Bishkek `day` to `owed`: the lake's spend of the day over the
    events up to `through` (the billing job's watermark). Exactly once per window, safe to
    rerun and to kill at any point (one transaction, under the campaign's lock):

    - the same (campaign, day, through) again changes nothing (`replayed`); a window older
      than the newest settled one is ignored (`stale`: a slower concurrent run);
    - owed above what the day stands for → a charge of the difference, capped like any
      charge (daily budget net of the day's charges, total budget, money), so a budget is
      never overspent; the capped rest is never asked again (the platform's loss);
    - owed below it (traffic the lake found invalid later) → credits of the difference,
      never below what the day still owes and never more than was charged;
    - a day the campaign was never active is not billed (`not_billable`, nothing stored).
    """
    at = now or datetime.now(UTC)
    owed = wallet.validate_amount(owed, Decimal("0.00"), MAX_AMOUNT, "owed")
    if through.tzinfo is None:
        raise ValidationError(ErrorCode.AD_INVALID_PERIOD, "through needs a time zone")
    with conn.transaction():
        c = campaigns.get_campaign(conn, campaign_id, lock=True)
        done = conn.execute(
            "select owed, previous_owed, charged, credited from ad_billing_windows"
            " where campaign_id = %s and day = %s and through = %s",
            (c.id, day, through)).fetchone()
        if done is not None:
            return Settlement(c.id, day, through, done[0], done[1], done[2], done[3],
                              "replayed")
        previous, last_through = settled_owed(conn, c.id, day)
        if last_through is not None and last_through > through:
            return Settlement(c.id, day, through, owed, previous, Decimal("0.00"),
                              Decimal("0.00"), "stale")
        if owed == previous:
            return Settlement(c.id, day, through, owed, previous, Decimal("0.00"),
                              Decimal("0.00"), "unchanged")
        if not c.start_date <= day <= c.end_date or day > wallet.today(at):
            raise ValidationError(ErrorCode.AD_INVALID_PERIOD,
                                  f"{day} is outside the campaign's run so far")
        start = wallet.day_start(day)
        if not campaigns.was_active_during(conn, c.id, start, start + timedelta(days=1)):
            return Settlement(c.id, day, through, owed, previous, Decimal("0.00"),
                              Decimal("0.00"), "not_billable")
        key = f"adbill:{c.id}:{day.isoformat()}:{through.isoformat()}"
        charged = credited = Decimal("0.00")
        charge_id = None
        if owed > previous:
            row = _post_charge(conn, c, day, owed - previous, key, through, at)
            charged, charge_id = row.charged, row.id
            outcome = "charged"
        else:
            credited = _credit_down_to(conn, c, day, owed, previous - owed, key, through, at)
            outcome = "credited"
        conn.execute(
            "insert into ad_billing_windows (campaign_id, day, through, owed, previous_owed,"
            " charged, credited, charge_id, created_at) values (%s, %s, %s, %s, %s, %s, %s,"
            " %s, %s)", (c.id, day, through, owed, previous, charged, credited, charge_id, at))
        return Settlement(c.id, day, through, owed, previous, charged, credited, outcome)


def _credit_down_to(conn: Connection, c: campaigns.Campaign, day: date, owed: Decimal,
                    decrease: Decimal, key: str, through: datetime, at: datetime) -> Decimal:
    """Credit the day's charges, newest first, by at most `decrease` and never below
    `owed` (charges capped by a budget may already stand below it)."""
    rows = conn.execute(
        "select id, charged - credited from ad_charges where campaign_id = %s and day = %s"
        " and charged > credited order by created_at desc, id for update",
        (c.id, day)).fetchall()
    net = sum((left for _, left in rows), Decimal("0.00"))
    to_give = min(decrease, max(net - owed, Decimal("0.00")))
    given = Decimal("0.00")
    for charge_id, left in rows:
        part = min(left, to_give - given)
        if part <= 0:
            break
        _post_credit(conn, c, day, charge_id, part, f"{key}:credit:{charge_id}",
                     "traffic found invalid after it was charged", None, through, at)
        c = campaigns.get_campaign(conn, c.id, lock=True)
        given += part
    return given


@dataclass(frozen=True)
class BilledDay:
    """A campaign-day as the ledger has it (for `make reconcile`)."""

    campaign_id: UUID
    day: date
    owed: Decimal  # what the latest settlement said the day owes
    through: datetime | None  # that settlement's watermark (None: manual charges only)
    charged: Decimal  # net: charges minus credits
    capped: bool  # a budget or the money held a charge below what was asked
    revenue: Decimal  # the platform's ads revenue posted by the day's entries


def billed_days(conn: Connection, since: date) -> list[BilledDay]:
    """Every campaign-day charged or settled since `since`, with the journal behind it."""
    rows = conn.execute(
        "with days as (select campaign_id, day from ad_charges where day >= %(since)s"
        "  union select campaign_id, day from ad_billing_windows where day >= %(since)s)"
        " select d.campaign_id, d.day,"
        "  (select w.owed from ad_billing_windows w where w.campaign_id = d.campaign_id"
        "    and w.day = d.day order by w.through desc limit 1),"
        "  (select max(w.through) from ad_billing_windows w where w.campaign_id = d.campaign_id"
        "    and w.day = d.day),"
        "  coalesce((select sum(c.charged - c.credited) from ad_charges c"
        "    where c.campaign_id = d.campaign_id and c.day = d.day), 0),"
        "  exists (select 1 from ad_charges c where c.campaign_id = d.campaign_id"
        "    and c.day = d.day and c.capped_by is not null),"
        "  array(select c.journal_entry_id from ad_charges c where c.campaign_id = d.campaign_id"
        "    and c.day = d.day and c.journal_entry_id is not null"
        "   union all select r.journal_entry_id from ad_credits r join ad_charges c"
        "    on c.id = r.charge_id where c.campaign_id = d.campaign_id and c.day = d.day)"
        " from days d order by d.day, d.campaign_id", {"since": since}).fetchall()
    return [BilledDay(r[0], r[1], r[2] if r[2] is not None else r[4], r[3], r[4], r[5],
                      -ledger.account_movement(conn, r[6], ledger.ADS_REVENUE))
            for r in rows]
