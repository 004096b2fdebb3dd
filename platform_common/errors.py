"""The platform's error codes and error classes, shared by both APIs and the workers.

One base class (`DomainError`) carries a stable, machine-readable code; the class picks
the HTTP status (`platform_common.http.STATUS_BY_CLASS`). Callers (the core API, the
serving API, the seed, pipelines) branch on `code`, never on the message text, so codes
are part of the public contract: add new ones, do not rename existing ones.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_BARCODE = "INVALID_BARCODE"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_STOCK = "INVALID_STOCK"
    INVALID_DEVICE_ID = "INVALID_DEVICE_ID"
    DUPLICATE_BARCODE = "DUPLICATE_BARCODE"
    DUPLICATE_SKU = "DUPLICATE_SKU"
    DUPLICATE_SLUG = "DUPLICATE_SLUG"
    DUPLICATE_ID = "DUPLICATE_ID"
    DUPLICATE_DEVICE = "DUPLICATE_DEVICE"
    MERCHANT_NOT_FOUND = "MERCHANT_NOT_FOUND"
    SHOP_NOT_FOUND = "SHOP_NOT_FOUND"
    CATEGORY_NOT_FOUND = "CATEGORY_NOT_FOUND"
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    MIGRATION_CHANGED = "MIGRATION_CHANGED"
    # --- API-wide ---------------------------------------------------------------------
    INVALID_REQUEST = "INVALID_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    # --- accounts and audit (each domain adds its codes in its own block) --------------
    EMAIL_TAKEN = "EMAIL_TAKEN"
    INVALID_EMAIL = "INVALID_EMAIL"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_ROLE = "INVALID_ROLE"
    INVALID_LANGUAGE = "INVALID_LANGUAGE"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    TOTP_REQUIRED = "TOTP_REQUIRED"
    INVALID_TOTP = "INVALID_TOTP"
    TOTP_ENROLMENT_REQUIRED = "TOTP_ENROLMENT_REQUIRED"
    TOTP_ALREADY_ENABLED = "TOTP_ALREADY_ENABLED"
    TOTP_NOT_STARTED = "TOTP_NOT_STARTED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    REFRESH_TOKEN_EXPIRED = "REFRESH_TOKEN_EXPIRED"
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"
    REFRESH_TOKEN_REVOKED = "REFRESH_TOKEN_REVOKED"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    OWNER_NOT_SELLER = "OWNER_NOT_SELLER"
    # --- catalog extensions: translations, bundles, search, import -----------------------
    TRANSLATION_REQUIRED = "TRANSLATION_REQUIRED"
    CATEGORY_CYCLE = "CATEGORY_CYCLE"
    INVALID_QR_CODE = "INVALID_QR_CODE"
    INVALID_ATTRIBUTES = "INVALID_ATTRIBUTES"
    INVALID_BUNDLE = "INVALID_BUNDLE"
    DUPLICATE_PRODUCT_REF = "DUPLICATE_PRODUCT_REF"
    BUNDLE_SINGLE_VARIANT = "BUNDLE_SINGLE_VARIANT"
    BUNDLE_STOCK_DERIVED = "BUNDLE_STOCK_DERIVED"
    VARIANT_IN_BUNDLE = "VARIANT_IN_BUNDLE"
    SEARCH_PRICE_RANGE_INVALID = "SEARCH_PRICE_RANGE_INVALID"
    SEARCH_POINT_INCOMPLETE = "SEARCH_POINT_INCOMPLETE"
    SEARCH_RADIUS_WITHOUT_POINT = "SEARCH_RADIUS_WITHOUT_POINT"
    SEARCH_INVALID_FILTER = "SEARCH_INVALID_FILTER"
    IMPORT_REJECTED = "IMPORT_REJECTED"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_FILE_TYPE = "UNSUPPORTED_FILE_TYPE"
    # per-row codes of an import report (inside IMPORT_REJECTED's details)
    INVALID_ENCODING = "INVALID_ENCODING"
    INVALID_FILE = "INVALID_FILE"
    IMPORT_EMPTY = "IMPORT_EMPTY"
    IMPORT_TOO_MANY_ROWS = "IMPORT_TOO_MANY_ROWS"
    MISSING_COLUMN = "MISSING_COLUMN"
    UNKNOWN_COLUMN = "UNKNOWN_COLUMN"
    MISSING_VALUE = "MISSING_VALUE"
    PRODUCT_FIELDS_CONFLICT = "PRODUCT_FIELDS_CONFLICT"
    # --- subscriptions ---------------------------------------------------------------------
    SKU_LIMIT_REACHED = "SKU_LIMIT_REACHED"
    PLAN_NOT_FOUND = "PLAN_NOT_FOUND"
    ALREADY_ON_PLAN = "ALREADY_ON_PLAN"
    SUBSCRIPTION_NOT_RENEWABLE = "SUBSCRIPTION_NOT_RENEWABLE"
    # --- orders, reservations, eligibility ------------------------------------------------
    BUY_NOT_ELIGIBLE = "BUY_NOT_ELIGIBLE"
    VARIANT_NOT_FOUND = "VARIANT_NOT_FOUND"
    VARIANT_NOT_IN_SHOP = "VARIANT_NOT_IN_SHOP"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    INVALID_ORDER_STATE = "INVALID_ORDER_STATE"
    ORDER_NOT_PAYABLE = "ORDER_NOT_PAYABLE"
    ORDER_ALREADY_PAID = "ORDER_ALREADY_PAID"
    INVALID_FULFILMENT = "INVALID_FULFILMENT"
    SLOT_NOT_FOUND = "SLOT_NOT_FOUND"
    SLOT_FULL = "SLOT_FULL"
    SLOT_CLOSED = "SLOT_CLOSED"
    INVALID_SLOT = "INVALID_SLOT"
    INVALID_DELIVERY_CODE = "INVALID_DELIVERY_CODE"
    DELIVERY_CODE_LOCKED = "DELIVERY_CODE_LOCKED"
    DEVICE_NOT_FOUND = "DEVICE_NOT_FOUND"
    DEVICE_RETIRED = "DEVICE_RETIRED"
    INVALID_PAYOUT_ACCOUNT = "INVALID_PAYOUT_ACCOUNT"
    PAYOUT_SUSPENDED = "PAYOUT_SUSPENDED"
    INVALID_DEVICE_TOKEN = "INVALID_DEVICE_TOKEN"
    # --- payments, payouts, refunds, ledger ------------------------------------------------
    PAYMENT_NOT_FOUND = "PAYMENT_NOT_FOUND"
    PAYMENT_NOT_ALLOWED = "PAYMENT_NOT_ALLOWED"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    INVALID_WEBHOOK = "INVALID_WEBHOOK"
    ORDER_NOT_PAID = "ORDER_NOT_PAID"
    PARTIAL_REFUND_NOT_ALLOWED = "PARTIAL_REFUND_NOT_ALLOWED"
    ALREADY_REFUNDED = "ALREADY_REFUNDED"
    REFUND_NOT_FOUND = "REFUND_NOT_FOUND"
    INVALID_TAKE_RATE = "INVALID_TAKE_RATE"
    LEDGER_UNBALANCED = "LEDGER_UNBALANCED"
    PSP_ERROR = "PSP_ERROR"
    # --- POS ingest: device credentials, till events, heartbeats -------------------------
    DUPLICATE_SALE = "DUPLICATE_SALE"
    INVALID_ITEM = "INVALID_ITEM"
    INVALID_POS_EVENT = "INVALID_POS_EVENT"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_MANY_EVENTS = "TOO_MANY_EVENTS"
    # --- behavioural events (POST /events): batch codes, then per-event codes ----------
    INVALID_BATCH = "INVALID_BATCH"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    EVENTS_UNAVAILABLE = "EVENTS_UNAVAILABLE"
    INVALID_EVENT = "INVALID_EVENT"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    INVALID_TARGET = "INVALID_TARGET"
    EVENT_TIME_OUT_OF_RANGE = "EVENT_TIME_OUT_OF_RANGE"
    OPTED_OUT = "OPTED_OUT"
    # --- social: posts, reactions, follows, comments, moderation, feeds, map ------------
    POST_NOT_FOUND = "POST_NOT_FOUND"
    COMMENT_NOT_FOUND = "COMMENT_NOT_FOUND"
    REPORT_NOT_FOUND = "REPORT_NOT_FOUND"
    MEDIA_NOT_FOUND = "MEDIA_NOT_FOUND"
    FOLLOW_TARGET_NOT_FOUND = "FOLLOW_TARGET_NOT_FOUND"
    CAPTION_TOO_LONG = "CAPTION_TOO_LONG"
    INVALID_TEXT = "INVALID_TEXT"
    TOO_MANY_TAGS = "TOO_MANY_TAGS"
    INVALID_MEDIA = "INVALID_MEDIA"
    INVALID_GEO = "INVALID_GEO"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_BBOX = "INVALID_BBOX"
    INVALID_FOLLOW_TARGET = "INVALID_FOLLOW_TARGET"
    PRODUCT_NOT_IN_SHOP = "PRODUCT_NOT_IN_SHOP"
    PIN_LIMIT_REACHED = "PIN_LIMIT_REACHED"
    CONTENT_REJECTED = "CONTENT_REJECTED"
    REPORT_ALREADY_RESOLVED = "REPORT_ALREADY_RESOLVED"
    COMMENTS_OFF = "COMMENTS_OFF"
    COMMENTS_BUYERS_ONLY = "COMMENTS_BUYERS_ONLY"
    COMMENTS_FOLLOWERS_ONLY = "COMMENTS_FOLLOWERS_ONLY"
    COMMENT_BLOCKED = "COMMENT_BLOCKED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"
    MEDIA_TYPE_MISMATCH = "MEDIA_TYPE_MISMATCH"
    # --- ads: campaigns, creatives, the ad wallet (top-ups, holds, charges, credits) ----
    AD_CAMPAIGN_NOT_FOUND = "AD_CAMPAIGN_NOT_FOUND"
    AD_INVALID_TRANSITION = "AD_INVALID_TRANSITION"
    AD_CAMPAIGN_NOT_EDITABLE = "AD_CAMPAIGN_NOT_EDITABLE"
    ADS_NOT_IN_PLAN = "ADS_NOT_IN_PLAN"
    AD_INVALID_TYPE = "AD_INVALID_TYPE"
    AD_INVALID_BID = "AD_INVALID_BID"
    AD_INVALID_BUDGET = "AD_INVALID_BUDGET"
    AD_BUDGET_BELOW_SPENT = "AD_BUDGET_BELOW_SPENT"
    AD_INVALID_SCHEDULE = "AD_INVALID_SCHEDULE"
    AD_INVALID_TARGETING = "AD_INVALID_TARGETING"
    AD_TARGETING_OUTSIDE_KG = "AD_TARGETING_OUTSIDE_KG"
    AD_INVALID_CREATIVE = "AD_INVALID_CREATIVE"
    AD_INSUFFICIENT_FUNDS = "AD_INSUFFICIENT_FUNDS"
    AD_INVALID_AMOUNT = "AD_INVALID_AMOUNT"
    AD_MERCHANT_REQUIRED = "AD_MERCHANT_REQUIRED"
    AD_TOPUP_NOT_FOUND = "AD_TOPUP_NOT_FOUND"
    AD_CHARGE_CONFLICT = "AD_CHARGE_CONFLICT"
    AD_CHARGE_NOT_FOUND = "AD_CHARGE_NOT_FOUND"
    AD_CAMPAIGN_NOT_BILLABLE = "AD_CAMPAIGN_NOT_BILLABLE"
    AD_INVALID_PERIOD = "AD_INVALID_PERIOD"
    AD_CREDIT_EXCEEDS_CHARGE = "AD_CREDIT_EXCEEDS_CHARGE"
    AD_INVALID_MONTH = "AD_INVALID_MONTH"
    LEDGER_OVERDRAWN = "LEDGER_OVERDRAWN"
    # --- analytics (serving API): reports over the warehouse's marts --------------------
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"
    REPORT_NOT_READY = "REPORT_NOT_READY"
    INVALID_SURFACE = "INVALID_SURFACE"
    INVALID_SORT = "INVALID_SORT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # analysts' read-only SQL (POST /analytics/sql)
    SQL_NOT_ALLOWED = "SQL_NOT_ALLOWED"
    INVALID_SQL = "INVALID_SQL"
    SQL_TIMEOUT = "SQL_TIMEOUT"
    SQL_LIMIT_EXCEEDED = "SQL_LIMIT_EXCEEDED"
    SQL_BUSY = "SQL_BUSY"
    # exports (/analytics/export, format=csv|xlsx)
    UNKNOWN_REPORT = "UNKNOWN_REPORT"
    EXPORT_TOO_LARGE = "EXPORT_TOO_LARGE"
    EXPORT_JOB_REQUIRED = "EXPORT_JOB_REQUIRED"
    EXPORT_NOT_FOUND = "EXPORT_NOT_FOUND"
    EXPORT_FAILED = "EXPORT_FAILED"
    EXPORT_INTERRUPTED = "EXPORT_INTERRUPTED"
    EXPORT_LINK_INVALID = "EXPORT_LINK_INVALID"
    EXPORT_LINK_EXPIRED = "EXPORT_LINK_EXPIRED"
    EXPORTS_UNAVAILABLE = "EXPORTS_UNAVAILABLE"
    # security (issue 11 §2): sign-in lockout with backoff (429, Retry-After)
    LOGIN_LOCKED = "LOGIN_LOCKED"
    # validated field types at the boundary (issue 11 §3, platform_common/validated.py);
    # in a 422 INVALID_REQUEST's `details[].code` (INVALID_TEXT, INVALID_DEVICE_ID too)
    NUMBER_OUT_OF_RANGE = "NUMBER_OUT_OF_RANGE"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
    INVALID_TOKEN = "INVALID_TOKEN"
    INVALID_MONEY = "INVALID_MONEY"


class DomainError(Exception):
    """A business rule was violated; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class NotFoundError(DomainError):
    """A referenced entity does not exist."""


class ConflictError(DomainError):
    """The change collides with existing data (duplicate key, barcode, device id...)."""


class ValidationError(DomainError):
    """An argument is malformed (bad barcode, negative price...)."""


class UnauthorizedError(DomainError):
    """No valid credentials (missing/expired token, wrong password, wrong TOTP code)."""


class ForbiddenError(DomainError):
    """Authenticated, but this actor may not do this (wrong role, not the owner)."""


class RateLimitedError(DomainError):
    """Too many actions in a window (429 with Retry-After = `retry_after` seconds)."""

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = max(1, int(retry_after))


class PayloadTooLargeError(DomainError):
    """A request body or an upload is larger than allowed (413)."""


class ServiceUnavailableError(DomainError):
    """A dependency is not ready yet (e.g. a report's mart has not been built): 503."""
