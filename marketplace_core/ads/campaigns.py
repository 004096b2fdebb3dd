"""Ad campaigns (issue 12 §1, seed 000 §3.10, §17, §22 AD_CAMPAIGN): what a shop promotes,
how it pays, for whom, when, and the status machine with moderation of the creative.

- Types: `boost` (a post of the shop, in Explore and Following), `search` (sponsored
  products of the shop in search), `banner` (an image). Pricing: `cpc` (bid per click),
  `cpm` (per 1,000 impressions), `fixed_daily` (per day shown). Bid, daily and total budget
  in KGS within the settings' limits (422 AD_INVALID_BID / AD_INVALID_BUDGET).
- Schedule: Asia/Bishkek dates `start_date`..`end_date` (both included).
- Targeting: marketplace_core.ads.targeting. Creative: `validate_creative`.
- Only merchants whose plan has ads access (PRO, ENTERPRISE; a trial counts) create,
  submit and resume campaigns (403 ADS_NOT_IN_PLAN).

Statuses and the only allowed moves (`TRANSITIONS`, applied by `_move` and nowhere else):

    draft ──submit──▶ in_review ──approve──▶ active ◀──resume── paused
      ▲                  │ reject                │ pause ───────▶ ▲
      └──────────────────┘                       │ (wallet cannot refill the hold) ─┘
    active/paused ──(spent = total budget)──▶ budget_spent ──resume (budget raised)──▶ active
    any but ended ──end (seller, admin; or the sweep after end_date)──▶ ended

Money (marketplace_core.ads.wallet): an active campaign holds min(daily budget, budget
left) of the merchant's wallet. Submitting needs that much free money (409
AD_INSUFFICIENT_FUNDS: a budget beyond the wallet); approval places the hold (if the money
is gone meanwhile the campaign lands in `paused`, reason `insufficient_funds`); resuming
needs it again (409 AD_INSUFFICIENT_FUNDS); pausing, ending and spending the budget
release it; raising the budgets of an active campaign raises the hold (or 409).

Creative moderation: at submit the name and headline go through the social stop-word
filter (`social.stopwords.screen`): refused words are 422 CONTENT_REJECTED; flagged words
are shown to the admin (`moderation_flags`). Every campaign is approved or rejected by an
admin; a rejection sends it back to `draft` with the admin's note.

Every change emits an event on `ads.campaigns` (Avro, money as decimals) and the status
history is kept in `ad_campaign_status_log`. A seller sees and manages only the campaigns
of its merchants: any other id answers 404 AD_CAMPAIGN_NOT_FOUND, like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from infra.settings import get_settings
from marketplace_core import audit
from marketplace_core.accounts import ownership
from marketplace_core.ads import targeting as targeting_mod
from marketplace_core.ads import wallet
from marketplace_core.audit.log import Actor
from marketplace_core.catalog import service as catalog
from marketplace_core.db import Connection
from marketplace_core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    ValidationError,
)
from marketplace_core.outbox import emit
from marketplace_core.social import media as social_media
from marketplace_core.social import posts as social_posts
from marketplace_core.social import stopwords
from marketplace_core.social.text import clean_text
from platform_common.money import MAX_AMOUNT, is_whole_cents, to_cents_half_even
from schemas.topics import ADS_CAMPAIGNS

CampaignType = Literal["boost", "search", "banner"]
Pricing = Literal["cpc", "cpm", "fixed_daily"]
TYPES = ("boost", "search", "banner")
PRICINGS = ("cpc", "cpm", "fixed_daily")
STATUSES = ("draft", "in_review", "active", "paused", "budget_spent", "ended")
MAX_NAME = 200
MAX_HEADLINE = 120

# action -> (statuses it may start from, statuses it may lead to). The one place that
# says which moves exist; `_move` refuses anything else with 409 AD_INVALID_TRANSITION.
TRANSITIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "submit": (frozenset({"draft"}), frozenset({"in_review"})),
    "approve": (frozenset({"in_review"}), frozenset({"active", "paused"})),
    "reject": (frozenset({"in_review"}), frozenset({"draft"})),
    "pause": (frozenset({"active"}), frozenset({"paused"})),
    "resume": (frozenset({"paused", "budget_spent"}), frozenset({"active"})),
    "end": (frozenset({"draft", "in_review", "active", "paused", "budget_spent"}),
            frozenset({"ended"})),
    # the system's moves
    "budget_spent": (frozenset({"active", "paused"}), frozenset({"budget_spent"})),
    "unfunded": (frozenset({"active"}), frozenset({"paused"})),
    "plan_lost": (frozenset({"active"}), frozenset({"paused"})),
    "finish": (frozenset({"draft", "in_review", "active", "paused", "budget_spent"}),
               frozenset({"ended"})),
}
SELLER_ACTIONS = ("submit", "pause", "resume", "end")
ADMIN_ACTIONS = ("approve", "reject", "submit", "pause", "resume", "end")


@dataclass(frozen=True)
class Campaign:
    id: UUID
    merchant_id: UUID
    shop_id: UUID
    name: str
    type: str
    pricing: str
    bid: Decimal
    daily_budget: Decimal
    total_budget: Decimal
    start_date: date
    end_date: date
    targeting: dict[str, Any]
    headline: str | None
    post_id: UUID | None
    product_ids: list[UUID]
    banner: dict[str, Any] | None
    status: str
    moderation_status: str
    moderation_flags: list[str]
    moderation_note: str | None
    pause_reason: str | None
    held: Decimal
    spent: Decimal
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    approved_at: datetime | None
    ended_at: datetime | None

    @property
    def hold_target(self) -> Decimal:
        """What an active campaign holds: a day's budget, or what is left if less."""
        return max(Decimal("0.00"), min(self.daily_budget, self.total_budget - self.spent))


_COLS = ("id, merchant_id, shop_id, name, type, pricing, bid, daily_budget, total_budget,"
         " start_date, end_date, targeting, headline, post_id, product_ids, banner, status,"
         " moderation_status, moderation_flags, moderation_note, pause_reason, held, spent,"
         " created_by, created_at, updated_at, submitted_at, approved_at, ended_at")


@dataclass(frozen=True)
class CreativeInput:
    headline: str | None = None
    post_id: UUID | None = None
    product_ids: list[UUID] = field(default_factory=list)
    banner_media_id: UUID | None = None


@dataclass(frozen=True)
class CampaignInput:
    shop_id: UUID
    name: str
    type: str
    pricing: str
    bid: Decimal
    daily_budget: Decimal
    total_budget: Decimal
    start_date: date
    end_date: date
    targeting: Any = None
    creative: CreativeInput = field(default_factory=CreativeInput)


@dataclass(frozen=True)
class CampaignPatch:
    """Fields to change (None = unchanged). Creative, targeting, type, pricing and the
    start date change only in draft; name, bid, budgets and the end date also while the
    campaign runs (active, paused, budget_spent)."""

    name: str | None = None
    bid: Decimal | None = None
    daily_budget: Decimal | None = None
    total_budget: Decimal | None = None
    start_date: date | None = None
    end_date: date | None = None
    targeting: Any = None
    creative: CreativeInput | None = None
    pricing: str | None = None


# --- validation ---------------------------------------------------------------------------

def _money(value: Any, low: Decimal, high: Decimal, code: ErrorCode, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValidationError(code, f"{what} must be a decimal amount")
    amount = Decimal(value)
    if not amount.is_finite() or amount.copy_abs() > MAX_AMOUNT:
        raise ValidationError(code, f"{what} is not a valid amount")
    if not is_whole_cents(amount) or not low <= amount <= high:
        raise ValidationError(code, f"{what} must be {low}..{high} KGS, at most 2 decimals")
    return to_cents_half_even(amount)


def _check_money(bid: Any, daily: Any, total: Any, spent: Decimal = Decimal(0)
                 ) -> tuple[Decimal, Decimal, Decimal]:
    s = get_settings()
    bid_v = _money(bid, s.policy.ads_min_bid, s.policy.ads_max_bid, ErrorCode.AD_INVALID_BID, "bid")
    daily_v = _money(daily, s.policy.ads_min_daily_budget, s.policy.ads_max_daily_budget,
                     ErrorCode.AD_INVALID_BUDGET, "daily_budget")
    total_v = _money(total, s.policy.ads_min_daily_budget, s.policy.ads_max_total_budget,
                     ErrorCode.AD_INVALID_BUDGET, "total_budget")
    if total_v < daily_v:
        raise ValidationError(ErrorCode.AD_INVALID_BUDGET,
                              "total_budget must be at least the daily_budget")
    if total_v < spent:
        raise ValidationError(ErrorCode.AD_BUDGET_BELOW_SPENT,
                              f"total_budget cannot go below what is spent ({spent})")
    return bid_v, daily_v, total_v


def _check_schedule(start: Any, end: Any, *, today: date, new_start: bool
                    ) -> tuple[date, date]:
    if not isinstance(start, date) or not isinstance(end, date):
        raise ValidationError(ErrorCode.AD_INVALID_SCHEDULE, "start_date and end_date are dates")
    s = get_settings()
    if new_start and start < today:
        raise ValidationError(ErrorCode.AD_INVALID_SCHEDULE,
                              f"start_date is in the past (today is {today} in Bishkek)")
    if new_start and start > today + timedelta(days=s.policy.ads_max_start_ahead_days):
        raise ValidationError(ErrorCode.AD_INVALID_SCHEDULE,
                              f"start_date is more than {s.policy.ads_max_start_ahead_days}"
                              " days ahead")
    if end < start:
        raise ValidationError(ErrorCode.AD_INVALID_SCHEDULE, "end_date is before start_date")
    if (end - start).days + 1 > s.policy.ads_max_campaign_days:
        raise ValidationError(ErrorCode.AD_INVALID_SCHEDULE,
                              f"a campaign runs at most {s.policy.ads_max_campaign_days} days")
    return start, end


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(ErrorCode.INVALID_TEXT, "name must be text")
    return clean_text(value, limit=MAX_NAME, field="name", required=True)


@dataclass(frozen=True)
class Creative:
    headline: str | None
    post_id: UUID | None
    product_ids: list[UUID]
    banner: dict[str, Any] | None


def validate_creative(conn: Connection, actor: Actor, campaign_type: str, shop_id: UUID,
                      creative: CreativeInput) -> Creative:
    """The creative of a `campaign_type` campaign of `shop_id`:
    boost → `post_id`: a post of that shop that everyone may see (404 POST_NOT_FOUND if
    missing or not publicly visible; 422 AD_INVALID_CREATIVE if another shop's);
    search → `product_ids`: live products of that shop (404 PRODUCT_NOT_FOUND, 422
    PRODUCT_NOT_IN_SHOP); banner → `banner_media_id`: a processed image the actor uploaded
    (POST /media/uploads; 404 MEDIA_NOT_FOUND) and a `headline`."""
    headline = None
    if creative.headline is not None:
        if not isinstance(creative.headline, str):
            raise ValidationError(ErrorCode.INVALID_TEXT, "headline must be text")
        headline = clean_text(creative.headline, limit=MAX_HEADLINE, field="headline") or None
    bad = ValidationError
    if campaign_type == "boost":
        if creative.post_id is None or creative.product_ids or creative.banner_media_id:
            raise bad(ErrorCode.AD_INVALID_CREATIVE, "a boost promotes one post: post_id only")
        views = social_posts.load_views(conn, None, [creative.post_id], check_visible=True)
        post = views.get(creative.post_id)
        if post is None:
            raise NotFoundError(ErrorCode.POST_NOT_FOUND,
                                f"post {creative.post_id} does not exist or is not public")
        if post.shop_id != shop_id:
            raise bad(ErrorCode.AD_INVALID_CREATIVE, "a boost promotes a post of its own shop")
        return Creative(headline, post.id, [], None)
    if campaign_type == "search":
        ids = list(dict.fromkeys(creative.product_ids))
        if not ids or creative.post_id or creative.banner_media_id:
            raise bad(ErrorCode.AD_INVALID_CREATIVE,
                      "sponsored products need product_ids (and nothing else)")
        limit = get_settings().policy.ads_max_products
        if len(ids) > limit:
            raise bad(ErrorCode.AD_INVALID_CREATIVE, f"at most {limit} sponsored products")
        found = {p.id: p for p in catalog.get_products(conn, ids)}
        for pid in ids:
            product = found.get(pid)
            if product is None or product.is_deleted:
                raise NotFoundError(ErrorCode.PRODUCT_NOT_FOUND, f"product {pid} does not exist")
            if product.shop_id != shop_id:
                raise bad(ErrorCode.PRODUCT_NOT_IN_SHOP, f"product {pid} is another shop's")
        return Creative(headline, None, ids, None)
    if campaign_type == "banner":
        if creative.banner_media_id is None or creative.post_id or creative.product_ids:
            raise bad(ErrorCode.AD_INVALID_CREATIVE, "a banner needs banner_media_id only")
        if not headline:
            raise bad(ErrorCode.AD_INVALID_CREATIVE, "a banner needs a headline")
        state = social_media.get(conn, actor, creative.banner_media_id)
        if state.kind != "image" or state.status != "ready":
            raise bad(ErrorCode.AD_INVALID_CREATIVE,
                      "a banner is a processed image upload (status ready)")
        return Creative(headline, None, [], {"media_id": str(state.media_id),
                                             "width": state.width, "height": state.height})
    raise bad(ErrorCode.AD_INVALID_TYPE, f"type is one of {', '.join(TYPES)}")


def _check_type(campaign_type: Any, pricing: Any) -> None:
    if campaign_type not in TYPES:
        raise ValidationError(ErrorCode.AD_INVALID_TYPE, f"type is one of {', '.join(TYPES)}")
    if pricing not in PRICINGS:
        raise ValidationError(ErrorCode.AD_INVALID_TYPE,
                              f"pricing is one of {', '.join(PRICINGS)}")


# --- reading, access -------------------------------------------------------------------------

def _not_found(campaign_id: UUID) -> NotFoundError:
    return NotFoundError(ErrorCode.AD_CAMPAIGN_NOT_FOUND, f"campaign {campaign_id} not found")


def _fetch(conn: Connection, campaign_id: UUID, *, lock: bool = False) -> Campaign | None:
    sql = f"select {_COLS} from ad_campaigns where id = %s" + (" for update" if lock else "")
    with conn.cursor(row_factory=class_row(Campaign)) as cur:
        return cur.execute(sql.encode(), (campaign_id,)).fetchone()


def get_campaign(conn: Connection, campaign_id: UUID, *, lock: bool = False) -> Campaign:
    """The campaign, whoever asks (the system's own jobs); 404 AD_CAMPAIGN_NOT_FOUND."""
    found = _fetch(conn, campaign_id, lock=lock)
    if found is None:
        raise _not_found(campaign_id)
    return found


def _may_see(conn: Connection, actor: Actor, merchant_id: UUID) -> bool:
    if actor.role == "admin":
        return True
    return actor.role == "seller" and merchant_id in ownership.merchant_ids_of(conn, actor.id)


def campaign_for(conn: Connection, actor: Actor, campaign_id: UUID, *, lock: bool = False
                 ) -> Campaign:
    """The campaign if `actor` may manage it (admin, or a seller of its merchant); any other
    answers 404 AD_CAMPAIGN_NOT_FOUND exactly like a missing one."""
    found = _fetch(conn, campaign_id, lock=lock)
    if found is None or not _may_see(conn, actor, found.merchant_id):
        raise _not_found(campaign_id)
    return found


def resolve_merchant(conn: Connection, actor: Actor, merchant_id: UUID | None) -> UUID:
    """The merchant `actor` acts for: the given one if it may manage it (else 404
    MERCHANT_NOT_FOUND, like a missing one), or a seller's only merchant (422
    AD_MERCHANT_REQUIRED when it has several, or for an admin)."""
    if merchant_id is not None:
        if actor.role == "admin":
            if catalog.get_merchant(conn, merchant_id) is not None:
                return merchant_id
        elif actor.role == "seller" and merchant_id in ownership.merchant_ids_of(conn, actor.id):
            return merchant_id
        raise NotFoundError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} not found")
    mine = ownership.merchant_ids_of(conn, actor.id) if actor.role == "seller" else []
    if len(mine) == 1:
        return mine[0]
    if actor.role == "seller" and not mine:
        raise NotFoundError(ErrorCode.MERCHANT_NOT_FOUND, "you have no merchant yet")
    raise ValidationError(ErrorCode.AD_MERCHANT_REQUIRED, "say which merchant: merchant_id")


def list_campaigns(conn: Connection, actor: Actor, *, merchant_id: UUID | None = None,
                   shop_id: UUID | None = None, status: str | None = None,
                   limit: int = 50, before: datetime | None = None) -> list[Campaign]:
    """Campaigns `actor` may see, newest first (admins: all, e.g. `status=in_review`)."""
    if status is not None and status not in STATUSES:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"status is one of {STATUSES}")
    merchants: list[UUID] | None = None
    if actor.role != "admin":
        merchants = ownership.merchant_ids_of(conn, actor.id) if actor.role == "seller" else []
        if merchant_id is not None and merchant_id not in merchants:
            raise NotFoundError(ErrorCode.MERCHANT_NOT_FOUND, f"merchant {merchant_id} not found")
    with conn.cursor(row_factory=class_row(Campaign)) as cur:
        return cur.execute(
            f"select {_COLS} from ad_campaigns where"
            " (%(merchants)s::uuid[] is null or merchant_id = any(%(merchants)s::uuid[]))"
            " and (%(merchant)s::uuid is null or merchant_id = %(merchant)s::uuid)"
            " and (%(shop)s::uuid is null or shop_id = %(shop)s::uuid)"
            " and (%(status)s::text is null or status = %(status)s::text)"
            " and (%(before)s::timestamptz is null or created_at < %(before)s::timestamptz)"
            " order by created_at desc, id limit %(limit)s".encode(),
            {"merchants": merchants, "merchant": merchant_id, "shop": shop_id,
             "status": status, "before": before, "limit": limit}).fetchall()


def status_history(conn: Connection, campaign_id: UUID) -> list[tuple[str | None, str, str,
                                                                         datetime]]:
    """(from, to, action, at) of every status change, oldest first."""
    rows = conn.execute(
        "select from_status, to_status, action, at from ad_campaign_status_log"
        " where campaign_id = %s order by at, id", (campaign_id,)).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def known_ids(conn: Connection, ids: list[UUID]) -> set[UUID]:
    """Which of these campaign ids exist in this core (the reconciliation skips the rest:
    another core's campaigns on a shared broker)."""
    rows = conn.execute("select id from ad_campaigns where id = any(%s)", (ids,)).fetchall()
    return {r[0] for r in rows}


def was_active_during(conn: Connection, campaign_id: UUID, start: datetime, end: datetime
                      ) -> bool:
    """True if the campaign was `active` at some moment of [start, end) (billing refuses
    to charge a day it never served: clicks of a paused campaign cost nothing)."""
    active_since: datetime | None = None
    for _from, to, _action, at in status_history(conn, campaign_id):
        if to == "active" and active_since is None:
            active_since = at
        elif to != "active" and active_since is not None:
            if active_since < end and at > start:
                return True
            active_since = None
    return active_since is not None and active_since < end


# --- events --------------------------------------------------------------------------------

def _emit(conn: Connection, c: Campaign, event_type: str, *, previous_status: str | None = None,
          amount: Decimal | None = None) -> None:
    t = targeting_mod.from_json(c.targeting)
    emit(conn, ADS_CAMPAIGNS, entity_type="ad_campaign", entity_id=c.id, event_type=event_type,
         record={
             "campaign_id": c.id, "merchant_id": c.merchant_id, "shop_id": c.shop_id,
             "type": c.type, "pricing": c.pricing, "bid": c.bid,
             "daily_budget": c.daily_budget, "total_budget": c.total_budget,
             "spent": c.spent, "held": c.held, "start_date": c.start_date,
             "end_date": c.end_date, "status": c.status, "previous_status": previous_status,
             "pause_reason": c.pause_reason, "moderation_status": c.moderation_status,
             "markets": t.markets,
             "geo_lat": t.geo.lat if t.geo else None, "geo_lon": t.geo.lon if t.geo else None,
             "geo_radius_km": t.geo.radius_km if t.geo else None,
             "category_ids": [str(x) for x in t.category_ids], "tags": t.tags,
             "post_id": c.post_id, "product_ids": [str(x) for x in c.product_ids],
             "has_banner": c.banner is not None, "amount": amount,
         })


# --- writing -----------------------------------------------------------------------------------

def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _update(conn: Connection, campaign_id: UUID, **values: Any) -> Campaign:
    sets = ", ".join(f"{column} = %({column})s" for column in values)
    params = {k: Jsonb(v) if k in ("targeting", "banner") and v is not None else v
              for k, v in values.items()}
    with conn.cursor(row_factory=class_row(Campaign)) as cur:
        updated = cur.execute(
            f"update ad_campaigns set {sets} where id = %(id)s returning {_COLS}".encode(),
            {**params, "id": campaign_id}).fetchone()
    assert updated is not None
    return updated


def create_campaign(conn: Connection, actor: Actor, data: CampaignInput, *,
                    now: datetime | None = None) -> Campaign:
    """A draft campaign of a shop the actor manages (404 SHOP_NOT_FOUND otherwise).

    Raises ADS_NOT_IN_PLAN, AD_INVALID_TYPE, AD_INVALID_BID, AD_INVALID_BUDGET,
    AD_INVALID_SCHEDULE, AD_INVALID_TARGETING, AD_TARGETING_OUTSIDE_KG, CATEGORY_NOT_FOUND,
    AD_INVALID_CREATIVE, POST_NOT_FOUND, PRODUCT_NOT_FOUND, PRODUCT_NOT_IN_SHOP,
    MEDIA_NOT_FOUND, INVALID_TEXT, CAPTION_TOO_LONG."""
    at = _now(now)
    with conn.transaction():
        shop = catalog.get_shop(conn, data.shop_id)
        if shop is None or not _may_see(conn, actor, shop.merchant_id):
            raise NotFoundError(ErrorCode.SHOP_NOT_FOUND, f"shop {data.shop_id} not found")
        name = _name(data.name)
        _check_type(data.type, data.pricing)
        bid, daily, total = _check_money(data.bid, data.daily_budget, data.total_budget)
        start, end = _check_schedule(data.start_date, data.end_date,
                                     today=wallet.today(at), new_start=True)
        target = targeting_mod.validate_targeting(conn, data.targeting)
        creative = validate_creative(conn, actor, data.type, shop.id, data.creative)
        wallet.require_ads_access(conn, shop.merchant_id)
        with conn.cursor(row_factory=class_row(Campaign)) as cur:
            c = cur.execute(
                "insert into ad_campaigns (merchant_id, shop_id, name, type, pricing, bid,"
                " daily_budget, total_budget, start_date, end_date, targeting, headline,"
                " post_id, product_ids, banner, created_by, created_at, updated_at) values"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                f" returning {_COLS}".encode(),
                (shop.merchant_id, shop.id, name, data.type, data.pricing, bid, daily, total,
                 start, end, Jsonb(target.as_json()), creative.headline, creative.post_id,
                 creative.product_ids, Jsonb(creative.banner) if creative.banner else None,
                 actor.id, at, at)).fetchone()
        assert c is not None
        _log(conn, c.id, None, "draft", "create", actor, at)
        _emit(conn, c, "ad_campaign.created")
        audit.record(conn, actor, "ads.campaign.create", "ad_campaign", c.id,
                     {"type": c.type, "pricing": c.pricing, "daily_budget": str(daily)})
        return c


_RUNNING = ("active", "paused", "budget_spent")


def update_campaign(conn: Connection, actor: Actor, campaign_id: UUID, patch: CampaignPatch,
                    *, now: datetime | None = None) -> Campaign:
    """Change a campaign (see `CampaignPatch` for what may change when). In review or
    ended: 409 AD_CAMPAIGN_NOT_EDITABLE. A running campaign's budgets move its hold (409
    AD_INSUFFICIENT_FUNDS if the wallet cannot cover a larger one)."""
    at = _now(now)
    with conn.transaction():
        c = campaign_for(conn, actor, campaign_id, lock=True)
        draft_only = (patch.targeting is not None or patch.creative is not None
                      or patch.pricing is not None or patch.start_date is not None)
        if c.status not in ("draft", *_RUNNING) or (draft_only and c.status != "draft"):
            raise ConflictError(
                ErrorCode.AD_CAMPAIGN_NOT_EDITABLE,
                f"a campaign {c.status} cannot change that" + (
                    "; creative, targeting, pricing and start date change only in draft"
                    if draft_only and c.status in _RUNNING else ""))
        values: dict[str, Any] = {}
        if patch.name is not None:
            values["name"] = _name(patch.name)
        if patch.pricing is not None:
            _check_type(c.type, patch.pricing)
            values["pricing"] = patch.pricing
        bid, daily, total = _check_money(
            c.bid if patch.bid is None else patch.bid,
            c.daily_budget if patch.daily_budget is None else patch.daily_budget,
            c.total_budget if patch.total_budget is None else patch.total_budget, c.spent)
        values.update(bid=bid, daily_budget=daily, total_budget=total)
        if patch.start_date is not None or patch.end_date is not None:
            start, end = _check_schedule(
                patch.start_date or c.start_date, patch.end_date or c.end_date,
                today=wallet.today(at), new_start=patch.start_date is not None)
            if c.status in _RUNNING and end < wallet.today(at):
                raise ValidationError(ErrorCode.AD_INVALID_SCHEDULE,
                                      "end_date of a running campaign cannot be in the past")
            values.update(start_date=start, end_date=end)
        if patch.targeting is not None:
            values["targeting"] = targeting_mod.validate_targeting(conn, patch.targeting
                                                                   ).as_json()
        if patch.creative is not None:
            creative = validate_creative(conn, actor, c.type, c.shop_id, patch.creative)
            values.update(headline=creative.headline, post_id=creative.post_id,
                          product_ids=creative.product_ids, banner=creative.banner)
        values["updated_at"] = at
        updated = _update(conn, c.id, **values)
        if updated.status == "active":
            updated = _set_hold(conn, updated, strict=True, at=at)
        _emit(conn, updated, "ad_campaign.updated")
        audit.record(conn, actor, "ads.campaign.update", "ad_campaign", c.id,
                     {k: str(v) for k, v in values.items() if k != "updated_at"})
        return updated


# --- the status machine ---------------------------------------------------------------------

def _log(conn: Connection, campaign_id: UUID, from_status: str | None, to_status: str,
         action: str, actor: Actor | None, at: datetime) -> None:
    conn.execute(
        "insert into ad_campaign_status_log (campaign_id, from_status, to_status, action,"
        " actor_id, at) values (%s, %s, %s, %s, %s, %s)",
        (campaign_id, from_status, to_status, action, actor.id if actor else None, at))


def check_transition(status: str, action: str, to_status: str) -> None:
    """409 AD_INVALID_TRANSITION unless `action` may take a campaign from `status` to
    `to_status` (the only check of the status machine)."""
    allowed = TRANSITIONS.get(action)
    if allowed is None or status not in allowed[0] or to_status not in allowed[1]:
        raise ConflictError(ErrorCode.AD_INVALID_TRANSITION,
                            f"a campaign {status} cannot be {action}d"
                            if allowed else f"unknown action {action!r}")


def _move(conn: Connection, c: Campaign, action: str, to_status: str, actor: Actor | None,
          at: datetime, **values: Any) -> Campaign:
    check_transition(c.status, action, to_status)
    moved = _update(conn, c.id, status=to_status, updated_at=at, **values)
    _log(conn, c.id, c.status, to_status, action, actor, at)
    _emit(conn, moved, f"ad_campaign.{action}", previous_status=c.status)
    if actor is not None:
        audit.record(conn, actor, f"ads.campaign.{action}", "ad_campaign", c.id,
                     {"from": c.status, "to": to_status})
    return moved


def _set_hold(conn: Connection, c: Campaign, *, strict: bool,
              at: datetime | None = None) -> Campaign:
    """Bring an active campaign's hold to its target (caller locked the campaign). More
    money is taken from the wallet's free part: all of it or 409 AD_INSUFFICIENT_FUNDS if
    `strict`, else as much as there is. Returns the campaign with its new `held`."""
    wallet.lock_wallet(conn, c.merchant_id)
    target = c.hold_target if c.status == "active" else Decimal("0.00")
    if target < c.held:
        wallet.release(conn, c.merchant_id, c.held - target, f"campaign {c.id}", at)
        return _update(conn, c.id, held=target)
    need = target - c.held
    if need == 0:
        return c
    free = wallet.balance(conn, c.merchant_id).available
    if free < need and strict:
        raise ConflictError(ErrorCode.AD_INSUFFICIENT_FUNDS,
                            f"the campaign holds {target} KGS a day; the wallet has {free} free:"
                            " top it up first")
    take = min(need, free)
    if take > 0:
        wallet.hold(conn, c.merchant_id, take, f"campaign {c.id}", at)
        return _update(conn, c.id, held=c.held + take)
    return c


def _release_all(conn: Connection, c: Campaign, at: datetime | None = None) -> Campaign:
    if c.held == 0:
        return c
    wallet.lock_wallet(conn, c.merchant_id)
    wallet.release(conn, c.merchant_id, c.held, f"campaign {c.id}", at)
    return replace(c, held=Decimal("0.00"))


def _require_funds(conn: Connection, c: Campaign) -> None:
    wallet.lock_wallet(conn, c.merchant_id)
    free = wallet.balance(conn, c.merchant_id).available
    if free < c.hold_target:
        raise ConflictError(ErrorCode.AD_INSUFFICIENT_FUNDS,
                            f"the campaign needs {c.hold_target} KGS a day held; the wallet has "
                            f"{free} free: top it up first")


def act(conn: Connection, actor: Actor, campaign_id: UUID, action: str, *,
        note: str | None = None, now: datetime | None = None) -> Campaign:
    """Apply a person's action: submit | approve | reject | pause | resume | end.

    approve and reject are an admin's (403 FORBIDDEN for a seller); see the module doc for
    what each does with money. Raises AD_CAMPAIGN_NOT_FOUND, AD_INVALID_TRANSITION,
    ADS_NOT_IN_PLAN, AD_INSUFFICIENT_FUNDS, AD_INVALID_SCHEDULE, CONTENT_REJECTED and the
    creative's errors (submit)."""
    from marketplace_core.errors import ForbiddenError

    at = _now(now)
    allowed = ADMIN_ACTIONS if actor.role == "admin" else SELLER_ACTIONS
    with conn.transaction():
        c = campaign_for(conn, actor, campaign_id, lock=True)
        if action not in allowed:
            if action in ADMIN_ACTIONS:
                raise ForbiddenError(ErrorCode.FORBIDDEN, f"only an admin may {action}")
            raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"unknown action {action!r}")
        if action == "submit":
            return _submit(conn, actor, c, at)
        if action == "approve":
            check_transition(c.status, action, "active")
            base = {"moderation_status": "approved", "approved_at": at,
                    "moderation_note": _note(note)}
            wallet.lock_wallet(conn, c.merchant_id)
            free = wallet.balance(conn, c.merchant_id).available
            if free < c.hold_target:
                return _move(conn, c, action, "paused", actor, at,
                             pause_reason="insufficient_funds", **base)
            moved = _move(conn, c, action, "active", actor, at, pause_reason=None, **base)
            return _set_hold(conn, moved, strict=True, at=at)
        if action == "reject":
            if not note or not note.strip():
                raise ValidationError(ErrorCode.INVALID_ARGUMENT, "say why: a note is required")
            return _move(conn, c, action, "draft", actor, at, moderation_status="rejected",
                         moderation_note=_note(note))
        if action == "pause":
            check_transition(c.status, action, "paused")
            c = _release_all(conn, c, at)
            return _move(conn, c, action, "paused", actor, at, held=c.held,
                         pause_reason="seller")
        if action == "resume":
            check_transition(c.status, action, "active")
            wallet.require_ads_access(conn, c.merchant_id)
            if c.hold_target <= 0:
                raise ConflictError(ErrorCode.AD_INVALID_TRANSITION,
                                    "the total budget is spent: raise total_budget first")
            if c.end_date < wallet.today(at):
                raise ConflictError(ErrorCode.AD_INVALID_TRANSITION,
                                    "the campaign's end_date has passed")
            _require_funds(conn, c)
            moved = _move(conn, c, action, "active", actor, at, pause_reason=None)
            return _set_hold(conn, moved, strict=True, at=at)
        # end
        check_transition(c.status, action, "ended")
        c = _release_all(conn, c, at)
        return _move(conn, c, action, "ended", actor, at, held=c.held, ended_at=at,
                     pause_reason=None)


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    return clean_text(note, limit=1000, field="note") or None


def _submit(conn: Connection, actor: Actor, c: Campaign, at: datetime) -> Campaign:
    check_transition(c.status, "submit", "in_review")
    wallet.require_ads_access(conn, c.merchant_id)
    if c.end_date < wallet.today(at):
        raise ValidationError(ErrorCode.AD_INVALID_SCHEDULE,
                              "the campaign's end_date has passed: move it first")
    # the creative again: the post may have been hidden or the products deleted since
    creative = validate_creative(conn, actor, c.type, c.shop_id, CreativeInput(
        headline=c.headline, post_id=c.post_id, product_ids=list(c.product_ids),
        banner_media_id=UUID(c.banner["media_id"]) if c.banner else None))
    verdict, hits = stopwords.screen(" ".join([c.name, creative.headline or ""]))
    if verdict == "reject":
        raise ValidationError(ErrorCode.CONTENT_REJECTED,
                              "the campaign's name or headline has words that are not allowed")
    _require_funds(conn, c)
    return _move(conn, c, "submit", "in_review", actor, at, submitted_at=at,
                 moderation_status="pending", moderation_flags=hits, moderation_note=None)


# --- the system's moves (billing, sweeps) ----------------------------------------------------

def after_charge(conn: Connection, c: Campaign, *, at: datetime) -> Campaign:
    """After a charge changed `spent`/`held` of a locked campaign: a spent budget ends its
    run (`budget_spent`, hold released); an active campaign's hold is refilled from the
    free money as far as it goes, and one left with nothing held is paused
    (`insufficient_funds`)."""
    if c.hold_target <= 0 and c.status in ("active", "paused"):
        c = _release_all(conn, c, at)
        return _move(conn, c, "budget_spent", "budget_spent", None, at, held=c.held,
                     pause_reason=None)
    if c.status != "active":
        return c
    c = _set_hold(conn, c, strict=False, at=at)
    if c.held == 0:
        return _move(conn, c, "unfunded", "paused", None, at, pause_reason="insufficient_funds")
    return c


def pause_for_plan(conn: Connection, merchant_id: UUID, now: datetime | None = None) -> int:
    """The merchant moved to a plan without ads: its active campaigns pause (reason
    `plan`, holds released); resuming needs the plan again (403 ADS_NOT_IN_PLAN)."""
    at = _now(now)
    ids = [r[0] for r in conn.execute(
        "select id from ad_campaigns where merchant_id = %s and status = 'active'"
        " order by id", (merchant_id,)).fetchall()]
    for campaign_id in ids:
        with conn.transaction():
            c = get_campaign(conn, campaign_id, lock=True)
            if c.status != "active":
                continue
            c = _release_all(conn, c, at)
            _move(conn, c, "plan_lost", "paused", None, at, held=c.held, pause_reason="plan")
    return len(ids)


def finish_ended_campaigns(conn: Connection, now: datetime | None = None) -> int:
    """Sweep: campaigns whose end_date is over (Asia/Bishkek) end and release their hold."""
    at = _now(now)
    ids = [r[0] for r in conn.execute(
        "select id from ad_campaigns where status <> 'ended' and end_date < %s"
        " order by id limit 500", (wallet.today(at),)).fetchall()]
    for campaign_id in ids:
        with conn.transaction():
            c = get_campaign(conn, campaign_id, lock=True)
            if c.status == "ended":
                continue
            c = _release_all(conn, c, at)
            _move(conn, c, "finish", "ended", None, at, held=c.held, ended_at=at,
                  pause_reason=None)
    return len(ids)


def emit_charged(conn: Connection, c: Campaign, event_type: str, amount: Decimal) -> None:
    _emit(conn, c, event_type, amount=amount)


def update_money(conn: Connection, campaign_id: UUID, **values: Any) -> Campaign:
    """Set `spent`/`held` of a campaign the caller locked (billing)."""
    return _update(conn, campaign_id, **values)
