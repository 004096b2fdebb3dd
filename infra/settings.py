"""The one place that knows ports, URLs, paths and credentials.

Every value comes from the environment (or a `.env` file at the repo root) and has a
default that runs the local stack under `.local/`. Pointing a part at an external cluster
is a matter of setting its variable: `KAFKA_BOOTSTRAP_SERVERS`, `SCHEMA_REGISTRY_URL`,
`S3_ENDPOINT_URL`, `CLICKHOUSE_URL`, `SPARK_MASTER`, `POSTGRES_DSN`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class BusinessPolicy(BaseSettings):
    """The marketplace's business rules that are settings: how long things are held, trial
    length, liveness, limits. Apart from the installer's ports, paths and heap sizes (in
    `Settings`), read from the same environment (same variable names), and reached as
    `get_settings().policy`."""

    model_config = SettingsConfigDict(
        env_file=str(REPO_ROOT / ".env"), env_file_encoding="utf-8", extra="ignore"
    )

    # --- orders and stock (marketplace_core.orders, inventory) ------------------------
    # How long a reservation holds stock before payment (spec: 20 to 30 minutes) and
    # after payment until pickup.
    reservation_hold_minutes: int = Field(default=30, ge=20, le=30,
                                          alias="CORE_RESERVATION_HOLD_MINUTES")
    pickup_hold_hours: int = Field(default=24, alias="CORE_PICKUP_HOLD_HOURS")
    # A shop sells online only while its POS was heard from this recently.
    pos_heartbeat_timeout_minutes: int = Field(default=10,
                                               alias="CORE_POS_HEARTBEAT_TIMEOUT_MINUTES")

    # --- subscriptions ----------------------------------------------------------------
    # Moving to PRO or ENTERPRISE starts a trial this long (once per merchant).
    trial_days: int = Field(default=14, alias="CORE_TRIAL_DAYS")

    # --- accounts ---------------------------------------------------------------------
    # Sign-in lockout (marketplace_core.accounts.throttle, state in Postgres): after
    # `login_max_failures` wrong passwords or TOTP codes within the window an account is
    # locked for base, then 2x, 4x ... up to the cap (429 LOGIN_LOCKED, Retry-After); a
    # client address gets the same with a larger budget (many buyers share a carrier NAT).
    login_max_failures: int = Field(default=5, ge=1, alias="CORE_LOGIN_MAX_FAILURES")
    login_address_max_failures: int = Field(default=50, ge=1,
                                            alias="CORE_LOGIN_ADDRESS_MAX_FAILURES")
    login_failure_window_seconds: int = Field(default=900, ge=1,
                                              alias="CORE_LOGIN_FAILURE_WINDOW_SECONDS")
    login_lock_base_seconds: int = Field(default=60, ge=1, alias="CORE_LOGIN_LOCK_BASE_SECONDS")
    login_lock_max_seconds: int = Field(default=3600, ge=1, le=86_400,
                                        alias="CORE_LOGIN_LOCK_MAX_SECONDS")

    # --- social -----------------------------------------------------------------------
    # Social: the platform's comments policy for posts whose shop set none (seed 000 §3.3:
    # all | buyers_only | followers_only | off).
    social_comments_mode: Literal["all", "buyers_only", "followers_only", "off"] = Field(
        default="all", alias="CORE_SOCIAL_COMMENTS_MODE")

    # --- ads --------------------------------------------------------------------------
    # Policy limits of a campaign (KGS): a bid or budget outside them is 422 AD_INVALID_BID /
    # AD_INVALID_BUDGET. CPM bids are per 1,000 impressions; fixed bids are per day.
    ads_min_bid: Decimal = Field(default=Decimal("1.00"), alias="ADS_MIN_BID")
    ads_max_bid: Decimal = Field(default=Decimal("10000.00"), alias="ADS_MAX_BID")
    ads_min_daily_budget: Decimal = Field(default=Decimal("50.00"),
                                          alias="ADS_MIN_DAILY_BUDGET")
    ads_max_daily_budget: Decimal = Field(default=Decimal("500000.00"),
                                          alias="ADS_MAX_DAILY_BUDGET")
    ads_max_total_budget: Decimal = Field(default=Decimal("10000000.00"),
                                          alias="ADS_MAX_TOTAL_BUDGET")
    # A campaign runs at most this many days and starts at most this far ahead.
    ads_max_campaign_days: int = Field(default=366, ge=1, alias="ADS_MAX_CAMPAIGN_DAYS")
    ads_max_start_ahead_days: int = Field(default=180, ge=0, alias="ADS_MAX_START_AHEAD_DAYS")
    # Targeting: radius around a point (km), and how many categories / tags / markets.
    ads_max_radius_km: Decimal = Field(default=Decimal("50"), alias="ADS_MAX_RADIUS_KM")
    ads_min_radius_km: Decimal = Field(default=Decimal("0.5"), alias="ADS_MIN_RADIUS_KM")
    ads_max_targeting_items: int = Field(default=20, ge=1, alias="ADS_MAX_TARGETING_ITEMS")
    # Sponsored products per campaign.
    ads_max_products: int = Field(default=20, ge=1, alias="ADS_MAX_PRODUCTS")
    # A wallet top-up through the PSP (KGS).
    ads_min_topup: Decimal = Field(default=Decimal("100.00"), alias="ADS_MIN_TOPUP")
    ads_max_topup: Decimal = Field(default=Decimal("1000000.00"), alias="ADS_MAX_TOPUP")
    # Served slots of one campaign per viewer (account or guest session) and Bishkek day.
    ads_frequency_cap_per_day: int = Field(default=4, ge=1, le=10,
                                           alias="ADS_FREQUENCY_CAP_PER_DAY")

    # --- notifications ----------------------------------------------------------------
    # The same notification (type, recipient, payload) within this window is sent once.
    notify_dedup_window_seconds: int = Field(default=300, ge=1,
                                             alias="NOTIFY_DEDUP_WINDOW_SECONDS")
    # Attempts on one channel before falling back to the next (spec: 5).
    notify_max_attempts: int = Field(default=5, ge=1, alias="NOTIFY_MAX_ATTEMPTS")
    # Per user and channel, per rolling 24 hours (spam protection; SMS costs money).
    notify_daily_limit_sms: int = Field(default=10, ge=0, alias="NOTIFY_DAILY_LIMIT_SMS")
    notify_daily_limit_email: int = Field(default=50, ge=0, alias="NOTIFY_DAILY_LIMIT_EMAIL")
    notify_daily_limit_push: int = Field(default=200, ge=0, alias="NOTIFY_DAILY_LIMIT_PUSH")

    # --- typed views ------------------------------------------------------------------
    @property
    def reservation_hold(self) -> timedelta:
        return timedelta(minutes=self.reservation_hold_minutes)

    @property
    def pickup_hold(self) -> timedelta:
        return timedelta(hours=self.pickup_hold_hours)

    @property
    def pos_heartbeat_timeout(self) -> timedelta:
        return timedelta(minutes=self.pos_heartbeat_timeout_minutes)

    @property
    def trial(self) -> timedelta:
        return timedelta(days=self.trial_days)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=str(REPO_ROOT / ".env"), env_file_encoding="utf-8", extra="ignore"
    )

    # "production" refuses to start with any credential left at its local default (the
    # defaults are public: they are in this file).
    environment: Literal["local", "production"] = Field(default="local", alias="PLATFORM_ENV")

    # --- where local services keep their state ---------------------------------------
    local_dir: Path = Field(default=REPO_ROOT / ".local", alias="PLATFORM_LOCAL_DIR")
    bind_host: str = Field(default="127.0.0.1", alias="PLATFORM_BIND_HOST")
    timezone: str = Field(default="Asia/Bishkek", alias="PLATFORM_TIMEZONE")

    # A JDK for the Java services; by default the newest one found (see infra/java.py).
    java_home: str | None = Field(default=None, alias="PLATFORM_JAVA_HOME")

    # --- PostgreSQL (transactional core + registry storage) ---------------------------
    postgres_host: str = Field(default="127.0.0.1", alias="POSTGRES_HOST")
    postgres_port: int = Field(default=5432, alias="POSTGRES_PORT")
    postgres_user: str = Field(default="bazaar", alias="POSTGRES_USER")
    postgres_password: str = Field(default="bazaar", alias="POSTGRES_PASSWORD")
    postgres_db: str = Field(default="marketplace", alias="POSTGRES_DB")
    registry_db: str = Field(default="registry", alias="REGISTRY_POSTGRES_DB")
    # An external database: set POSTGRES_DSN and the local cluster is not started.
    postgres_dsn_override: str | None = Field(default=None, alias="POSTGRES_DSN")

    # --- Kafka ------------------------------------------------------------------------
    kafka_port: int = Field(default=9092, alias="KAFKA_PORT")
    kafka_controller_port: int = Field(default=9093, alias="KAFKA_CONTROLLER_PORT")
    kafka_bootstrap_override: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    kafka_heap: str = Field(default="512m", alias="KAFKA_HEAP")

    # --- Schema registry (Apicurio, Confluent-compatible API) -------------------------
    registry_port: int = Field(default=8081, alias="SCHEMA_REGISTRY_PORT")
    registry_url_override: str | None = Field(default=None, alias="SCHEMA_REGISTRY_URL")
    registry_management_port: int = Field(default=8091, alias="SCHEMA_REGISTRY_MANAGEMENT_PORT")
    registry_heap: str = Field(default="384m", alias="SCHEMA_REGISTRY_HEAP")

    # --- Object storage (MinIO / S3) --------------------------------------------------
    minio_port: int = Field(default=9000, alias="MINIO_PORT")
    minio_console_port: int = Field(default=9001, alias="MINIO_CONSOLE_PORT")
    s3_endpoint_override: str | None = Field(default=None, alias="S3_ENDPOINT_URL")
    s3_access_key: str = Field(default="bazaar-admin", alias="S3_ACCESS_KEY")
    s3_secret_key: str = Field(default="bazaar-secret-key", alias="S3_SECRET_KEY")
    s3_region: str = Field(default="us-east-1", alias="S3_REGION")
    lake_bucket: str = Field(default="lake", alias="LAKE_BUCKET")
    # Every lake table lives under this prefix of the bucket (empty: the bucket's root).
    # Tests land their own lake under a prefix of their own; paths themselves are declared
    # once, in pipelines/lake_catalog.py.
    lake_prefix: str = Field(default="", alias="LAKE_PREFIX")

    # --- Spark ------------------------------------------------------------------------
    spark_master: str = Field(default="local[2]", alias="SPARK_MASTER")
    spark_driver_memory: str = Field(default="1g", alias="SPARK_DRIVER_MEMORY")
    spark_shuffle_partitions: int = Field(default=2, alias="SPARK_SHUFFLE_PARTITIONS")
    # Continuous landing: seconds between micro-batches (seed 000 §22.2 refreshes every
    # 5 minutes; landing runs well inside that).
    landing_trigger_seconds: int = Field(default=10, alias="LANDING_TRIGGER_SECONDS")
    # Lake tables written side by side within one micro-batch.
    landing_table_parallelism: int = Field(default=6, alias="LANDING_TABLE_PARALLELISM")
    # Where a NEW lake (no checkpoint yet) starts reading its topics: unset = the earliest
    # record Kafka keeps; an epoch-millis timestamp = the first record at or after it (a
    # test lake that must not land the whole shared broker's history).
    landing_starting_timestamp_ms: int | None = Field(default=None,
                                                      alias="LANDING_STARTING_TIMESTAMP_MS")

    # --- ClickHouse: embedded chdb unless CLICKHOUSE_URL names a server ---------------
    clickhouse_url: str | None = Field(default=None, alias="CLICKHOUSE_URL")
    clickhouse_user: str = Field(default="default", alias="CLICKHOUSE_USER")
    clickhouse_password: str = Field(default="", alias="CLICKHOUSE_PASSWORD")
    warehouse_database: str = Field(default="analytics", alias="WAREHOUSE_DATABASE")
    # The embedded warehouse's directory (default .local/warehouse).
    warehouse_dir: Path | None = Field(default=None, alias="WAREHOUSE_PATH")

    # --- HTTP services ----------------------------------------------------------------
    core_api_port: int = Field(default=8000, alias="CORE_API_PORT")
    serving_api_port: int = Field(default=8001, alias="SERVING_API_PORT")
    # The core API's per-process product card cache (marketplace_core/catalog/card_cache.py):
    # cards kept per process (0: no cache, every read runs the card statement).
    card_cache_entries: int = Field(default=50_000, ge=0, alias="CARD_CACHE_ENTRIES")
    dagster_port: int = Field(default=3000, alias="DAGSTER_PORT")
    # Where the serving API's dashboard forwards sign-ins (the core owns accounts); default
    # the local core API.
    core_api_url_override: str | None = Field(default=None, alias="CORE_API_URL")
    # Shared secret of the platform's own processes (header X-Internal-Token): the serving
    # process's internal endpoints (refresh, raw marts), and its reports read by the
    # reconciliation; set a long random value anywhere but a laptop.
    internal_token: str = Field(default="local-internal-token", alias="PLATFORM_INTERNAL_TOKEN")
    # The serving API remembers a caller's account state (active, session not revoked,
    # role) and a seller's shops for this long; a logout, a deactivation or a membership
    # change reaches it within these seconds (0: look up on every request).
    serving_access_cache_seconds: float = Field(default=5.0, ge=0,
                                                alias="SERVING_ACCESS_CACHE_SECONDS")
    # Analysts' read-only SQL on the serving API (POST /analytics/sql): each query runs on
    # an engine session locked with readonly=1 and these limits (a longer query is stopped,
    # a longer result cut at the row limit), at most `max_concurrent` at a time so sellers'
    # reports keep their share of the warehouse.
    analyst_sql_timeout_seconds: float = Field(default=30.0, gt=0,
                                               alias="ANALYST_SQL_TIMEOUT_SECONDS")
    analyst_sql_max_rows: int = Field(default=100_000, ge=1, alias="ANALYST_SQL_MAX_ROWS")
    analyst_sql_max_concurrent: int = Field(default=2, ge=1,
                                            alias="ANALYST_SQL_MAX_CONCURRENT")
    analyst_sql_max_threads: int = Field(default=2, ge=1, alias="ANALYST_SQL_MAX_THREADS")
    analyst_sql_max_memory_bytes: int = Field(default=2_000_000_000, ge=10_000_000,
                                              alias="ANALYST_SQL_MAX_MEMORY_BYTES")

    # --- the seller dashboard (serving_api/dashboard) and its browser tests ------------
    # The charting library installed by `python -m infra install dashboard-assets`
    # (default .local/opt/dashboard-vendor), served under /dashboard/vendor/.
    dashboard_vendor_dir_override: Path | None = Field(default=None,
                                                       alias="DASHBOARD_VENDOR_DIR")
    # Debian's chromium and chromium-driver (`python -m infra install chromium`), for the
    # browser test and the paint benchmark.
    chromium_binary: Path = Field(default=Path("/usr/bin/chromium"), alias="CHROMIUM_BINARY")
    chromedriver_binary: Path = Field(default=Path("/usr/bin/chromedriver"),
                                      alias="CHROMEDRIVER_PATH")

    # --- report exports (serving API: /analytics/export, serving_api/exports/) ---------
    # Export jobs keep their manifest and file here: `<prefix>jobs/<id>/manifest.json`
    # and `<prefix>jobs/<id>/<file>`, plus `<prefix>running/<id>` while one runs.
    exports_bucket: str = Field(default="exports", alias="EXPORTS_BUCKET")
    exports_prefix: str = Field(default="", alias="EXPORTS_PREFIX")
    # No export (streamed or job) of more rows than this: 422 EXPORT_TOO_LARGE.
    export_max_rows: int = Field(default=5_000_000, ge=1, alias="EXPORT_MAX_ROWS")
    # GET streams up to this many rows; more needs a job (422 EXPORT_JOB_REQUIRED).
    export_stream_max_rows: int = Field(default=100_000, ge=1, alias="EXPORT_STREAM_MAX_ROWS")
    # Data rows per XLSX sheet before the next sheet starts (Excel: 1,048,576 rows per
    # sheet, minus the header and the totals row).
    export_xlsx_rows_per_sheet: int = Field(default=1_000_000, ge=1, le=1_048_574,
                                            alias="EXPORT_XLSX_ROWS_PER_SHEET")
    # How long a job's download link works (each status read mints a fresh one).
    export_link_ttl_seconds: int = Field(default=3600, ge=1, alias="EXPORT_LINK_TTL_SECONDS")
    # Rows per warehouse query of a streamed export (LIMIT/OFFSET pages).
    export_chunk_rows: int = Field(default=50_000, ge=1, alias="EXPORT_CHUNK_ROWS")
    # Jobs run side by side in the serving process; more wait queued.
    export_job_workers: int = Field(default=1, ge=1, alias="EXPORT_JOB_WORKERS")
    # A job rewrites its manifest (progress, heartbeat) at most this often.
    export_progress_seconds: float = Field(default=1.0, gt=0, alias="EXPORT_PROGRESS_SECONDS")
    # A running job of another host whose heartbeat is older than this is dead (failed).
    export_stale_seconds: float = Field(default=120.0, gt=0, alias="EXPORT_STALE_SECONDS")

    # --- business policy: holds, trial, liveness, limits (one typed section) -----------
    policy: BusinessPolicy = Field(default_factory=BusinessPolicy)

    # --- transactional core (marketplace_core) ----------------------------------------
    # Signing key of access tokens; set a long random value anywhere but a laptop.
    jwt_secret: str = Field(default="local-dev-jwt-secret-change-me-0123456789",
                            alias="CORE_JWT_SECRET")
    # Key of the pseudonyms that stand for accounts outside the core (social and
    # behavioural events); rotating it re-pseudonymises every account from then on.
    pseudonym_secret: str = Field(default="local-dev-pseudonym-secret-change-me-0123456789",
                                  alias="CORE_PSEUDONYM_SECRET")
    # Keys that seal secrets at rest (platform_common.sealing): comma-separated Fernet keys,
    # the first seals, every one opens. Rotate by putting a new key first, running
    # `python -m marketplace_core.reseal`, then dropping the old key.
    data_encryption_keys: str = Field(
        default="bG9jYWwtZGV2LXNlYWxpbmcta2V5LWNoYW5nZS1tZTA=", alias="DATA_ENCRYPTION_KEYS")
    # Signing key of ad tokens (marketplace_core.ads): a click cannot be forged or replayed.
    ads_token_secret: str = Field(default="local-dev-ads-token-secret-change-me-0123456789",
                                  alias="ADS_TOKEN_SECRET")
    # Server-side key (pepper) of short codes and throttle keys: delivery codes are stored
    # as HMAC(pepper, salt:code), so a database leak alone does not let anyone try the
    # million 6-digit codes offline; sign-in lockouts key accounts and addresses by it.
    code_pepper: str = Field(default="local-dev-code-pepper-change-me-0123456789",
                             alias="CORE_CODE_PEPPER")
    access_token_ttl_seconds: int = Field(default=900, alias="CORE_ACCESS_TOKEN_TTL_SECONDS")
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600,
                                           alias="CORE_REFRESH_TOKEN_TTL_SECONDS")
    bcrypt_rounds: int = Field(default=12, alias="CORE_BCRYPT_ROUNDS")
    # The payment provider: "simulator" (a local PSP that calls our webhook) for now.
    psp_provider: str = Field(default="simulator", alias="CORE_PSP_PROVIDER")
    psp_webhook_secret: str = Field(default="local-psp-webhook-secret",
                                    alias="CORE_PSP_WEBHOOK_SECRET")
    # Seconds between sweeps of expired reservations and stale POS terminals.
    sweep_interval_seconds: float = Field(default=15.0, alias="CORE_SWEEP_INTERVAL_SECONDS")
    # Outbox relay: rows per Kafka batch, and the pause after a poll that found nothing.
    # The relay polls instead of waiting for a NOTIFY from the writers: a NOTIFY in a
    # transaction serialises every notifying commit of the database (a global lock held
    # through the commit's WAL flush), which capped order placement (bench/README.md).
    outbox_batch_size: int = Field(default=1000, alias="OUTBOX_BATCH_SIZE")
    outbox_poll_interval_seconds: float = Field(default=0.02, gt=0, le=5,
                                                alias="OUTBOX_POLL_INTERVAL_SECONDS")

    # --- behavioural events (POST /events, marketplace_core.behaviour) -------------------
    # Events per batch and bytes per request body; larger batches are refused whole.
    events_max_batch: int = Field(default=500, ge=1, alias="EVENTS_MAX_BATCH")
    events_max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024,
                                       alias="EVENTS_MAX_BODY_BYTES")
    # Client time accepted from `received - max_past` to `received + max_future`.
    events_max_future_seconds: int = Field(default=300, ge=0, alias="EVENTS_MAX_FUTURE_SECONDS")
    events_max_past_seconds: int = Field(default=7 * 86400, ge=0,
                                         alias="EVENTS_MAX_PAST_SECONDS")
    # A resend of the same content under a new event id is a duplicate within this window.
    events_dedup_window_seconds: int = Field(default=600, ge=1,
                                             alias="EVENTS_DEDUP_WINDOW_SECONDS")
    # How long an accepted event id is remembered (the lake dedups on event_id beyond).
    events_id_memory_seconds: int = Field(default=86400, ge=1, alias="EVENTS_ID_MEMORY_SECONDS")
    # Longest wait for Kafka's acknowledgement of a batch before answering 503.
    events_delivery_timeout_seconds: float = Field(default=10.0, gt=0,
                                                   alias="EVENTS_DELIVERY_TIMEOUT_SECONDS")
    events_linger_ms: int = Field(default=5, ge=0, alias="EVENTS_LINGER_MS")
    # Other topic names for the intake (benchmarks and tests; default: the catalog's
    # analytics.raw and analytics.bad_events).
    events_raw_topic: str | None = Field(default=None, alias="EVENTS_RAW_TOPIC")
    events_bad_topic: str | None = Field(default=None, alias="EVENTS_BAD_TOPIC")
    # Media uploads (presigned PUT to MinIO/S3) land in this bucket.
    social_media_bucket: str = Field(default="social-media", alias="SOCIAL_MEDIA_BUCKET")

    # --- ads: campaigns and the ad wallet (marketplace_core.ads) -----------------------
    # The billing job (orchestration.defs.ads) re-settles the days of the last N Bishkek
    # days from the lake each run: ad events landing later than that are not billed.
    ads_billing_lookback_days: int = Field(default=7, ge=1, le=60,
                                           alias="ADS_BILLING_LOOKBACK_DAYS")
    # --- ads serving (marketplace_core.ads.serving, tokens, reporting) -------------------
    # Off: feeds and search carry no ads (the benchmark's baseline; an emergency switch).
    ads_serving_enabled: bool = Field(default=True, alias="ADS_SERVING_ENABLED")
    # 0-based positions of ad slots in a feed page and in a search page (comma-separated).
    ads_feed_slots: str = Field(default="3,10", alias="ADS_FEED_SLOTS")
    ads_search_slots: str = Field(default="2,10", alias="ADS_SEARCH_SLOTS")
    # How long a served ad's token may be reported (impression, click) without the
    # `token_expired` flag.
    ads_token_ttl_seconds: int = Field(default=86400, ge=60, le=30 * 86400,
                                       alias="ADS_TOKEN_TTL_SECONDS")
    # Pacing: by a moment of the day a campaign may have spent daily_budget x elapsed
    # share of the day x this slack (>= 1: lets a slow morning catch up).
    ads_pacing_slack: Decimal = Field(default=Decimal("1.20"), ge=1, le=10,
                                      alias="ADS_PACING_SLACK")
    # Expected CTR of CPC ads = (clicks + prior x weight) / (impressions + weight).
    ads_ctr_prior: Decimal = Field(default=Decimal("0.02"), gt=0, le=1, alias="ADS_CTR_PRIOR")
    ads_ctr_prior_weight: int = Field(default=200, ge=1, alias="ADS_CTR_PRIOR_WEIGHT")
    # Fixed-per-day campaigns compete as if their day bought this many impressions.
    ads_fixed_daily_reference_impressions: int = Field(
        default=1000, ge=1, alias="ADS_FIXED_DAILY_REFERENCE_IMPRESSIONS")
    # A request near a market (its `near` point within this distance) is "in" that market.
    ads_market_radius_km: Decimal = Field(default=Decimal("2.0"), gt=0,
                                          alias="ADS_MARKET_RADIUS_KM")
    # Seconds between reloads of the in-process snapshot of servable campaigns.
    ads_snapshot_refresh_seconds: float = Field(default=2.0, gt=0,
                                                alias="ADS_SNAPSHOT_REFRESH_SECONDS")
    # POST /ads/events: reports per batch.
    ads_events_max_batch: int = Field(default=100, ge=1, le=1000,
                                      alias="ADS_EVENTS_MAX_BATCH")
    # Another topic for ad events (tests; default: the catalog's ads.events).
    ads_events_topic: str | None = Field(default=None, alias="ADS_EVENTS_TOPIC")

    # --- notifications (marketplace_core.notifications, seed 000 §25) -------------------
    # Mailpit, the local mail server (`go install`, service `mailpit`): SMTP and its web UI
    # and API (the mailbox tests and the demo read back).
    mailpit_smtp_port: int = Field(default=1025, alias="MAILPIT_SMTP_PORT")
    mailpit_http_port: int = Field(default=8025, alias="MAILPIT_HTTP_PORT")
    # Outgoing SMTP: default the local Mailpit; a real relay by NOTIFY_SMTP_HOST/PORT.
    notify_smtp_host_override: str | None = Field(default=None, alias="NOTIFY_SMTP_HOST")
    notify_smtp_port_override: int | None = Field(default=None, alias="NOTIFY_SMTP_PORT")
    notify_email_from: str = Field(default="Bazaar <no-reply@bazaar.kg>",
                                   alias="NOTIFY_EMAIL_FROM")
    # Signs the push/SMS providers' status webhooks (X-Notify-Signature) and the
    # unsubscribe links.
    notify_webhook_secret: str = Field(default="local-dev-notify-webhook-secret-change-me-0123",
                                       alias="NOTIFY_WEBHOOK_SECRET")
    notify_unsubscribe_secret: str = Field(
        default="local-dev-notify-unsubscribe-secret-change-me-01",
        alias="NOTIFY_UNSUBSCRIBE_SECRET")
    # Where links in messages point (unsubscribe, order pages): default the core API.
    notify_public_url_override: str | None = Field(default=None, alias="NOTIFY_PUBLIC_URL")
    # Where links to the seller dashboard point (daily report, anomalies): default the
    # local serving API's dashboard.
    notify_dashboard_url_override: str | None = Field(default=None,
                                                      alias="NOTIFY_DASHBOARD_URL")
    # Waits before attempts 2, 3, 4… of one channel (seconds; the last one repeats; spec:
    # 1 m → 5 m → 15 m); how many attempts before the next channel is policy.
    notify_retry_delays_seconds: str = Field(default="60,300,900",
                                             alias="NOTIFY_RETRY_DELAYS_SECONDS")
    # A provider call longer than this is a (retried) timeout.
    notify_provider_timeout_seconds: float = Field(default=5.0, gt=0,
                                                   alias="NOTIFY_PROVIDER_TIMEOUT_SECONDS")
    # The push and SMS simulators: ok | fail (HTTP 500) | timeout | reject (permanent).
    notify_push_simulator_mode: str = Field(default="ok", alias="NOTIFY_PUSH_SIMULATOR_MODE")
    notify_sms_simulator_mode: str = Field(default="ok", alias="NOTIFY_SMS_SIMULATOR_MODE")
    # Dispatcher threads of one worker (each claims its own rows; an attempt mostly waits
    # on Postgres and the provider).
    notify_dispatch_threads: int = Field(default=4, ge=1, alias="NOTIFY_DISPATCH_THREADS")
    # The worker's idle wait between looks at the retry queue.
    notify_poll_seconds: float = Field(default=1.0, gt=0, alias="NOTIFY_POLL_SECONDS")

    # --- chat (marketplace_core.chat; seed 000 §3.4, §3.10) -------------------------------
    # Messages per account: a token bucket of CHAT_MESSAGE_BURST refilled at
    # CHAT_MESSAGES_PER_MINUTE (429 CHAT_RATE_LIMITED beyond it).
    chat_messages_per_minute: float = Field(default=20.0, gt=0, alias="CHAT_MESSAGES_PER_MINUTE")
    chat_message_burst: int = Field(default=10, ge=1, alias="CHAT_MESSAGE_BURST")
    # New conversations per account (a spammer writing to every shop): per hour and burst.
    chat_conversations_per_hour: float = Field(default=30.0, gt=0,
                                               alias="CHAT_CONVERSATIONS_PER_HOUR")
    chat_conversation_burst: int = Field(default=10, ge=1, alias="CHAT_CONVERSATION_BURST")
    # The same text (case and spaces ignored) from one account, in any conversation: at most
    # CHAT_REPEAT_MAX times within CHAT_REPEAT_WINDOW_SECONDS (429 CHAT_REPEATED_TEXT).
    chat_repeat_max: int = Field(default=3, ge=1, alias="CHAT_REPEAT_MAX")
    chat_repeat_window_seconds: int = Field(default=600, ge=1, alias="CHAT_REPEAT_WINDOW_SECONDS")
    # Stop words: the moderation lists of the social domain (ru, ky) when true, plus these
    # comma-separated stems, refused outright (e.g. "whatsapp,переведите на карту").
    chat_stopwords_use_social_lists: bool = Field(default=True,
                                                  alias="CHAT_STOPWORDS_USE_SOCIAL_LISTS")
    chat_stopwords_extra: str = Field(default="", alias="CHAT_STOPWORDS_EXTRA")
    # The live channel (WebSocket /chat/live): seconds a new connection may take to
    # authenticate, seconds of silence (no frame, no pong) before it is closed, frames
    # queued for a slow client before it is dropped (it resumes from its cursor).
    chat_ws_auth_timeout_seconds: float = Field(default=10.0, gt=0,
                                                alias="CHAT_WS_AUTH_TIMEOUT_SECONDS")
    chat_ws_idle_timeout_seconds: float = Field(default=120.0, gt=0,
                                                alias="CHAT_WS_IDLE_TIMEOUT_SECONDS")
    chat_ws_queue_max: int = Field(default=1000, ge=10, alias="CHAT_WS_QUEUE_MAX")
    # Stock and Buy-button subscriptions per connection.
    chat_ws_max_subscriptions: int = Field(default=200, ge=1, alias="CHAT_WS_MAX_SUBSCRIPTIONS")
    # false: the API does not consume core.variants / core.shop_eligibility (no live stock).
    chat_live_stock_enabled: bool = Field(default=True, alias="CHAT_LIVE_STOCK_ENABLED")

    # --- monitoring (Prometheus, issue 11 §6) -------------------------------------------
    # The Prometheus server started by `make up` (UI and API), bound to PLATFORM_BIND_HOST.
    prometheus_port: int = Field(default=9090, alias="PROMETHEUS_PORT")
    prometheus_retention: str = Field(default="15d", alias="PROMETHEUS_RETENTION")
    prometheus_scrape_interval_seconds: int = Field(default=15, ge=1,
                                                    alias="PROMETHEUS_SCRAPE_INTERVAL_SECONDS")
    # Worker processes without an HTTP server serve /metrics on these ports (the APIs
    # serve it on their own port).
    outbox_relay_metrics_port: int = Field(default=9101, alias="OUTBOX_RELAY_METRICS_PORT")
    pos_ingest_metrics_port: int = Field(default=9102, alias="POS_INGEST_METRICS_PORT")
    media_worker_metrics_port: int = Field(default=9103, alias="MEDIA_WORKER_METRICS_PORT")
    lake_landing_metrics_port: int = Field(default=9104, alias="LAKE_LANDING_METRICS_PORT")
    notifications_worker_metrics_port: int = Field(default=9105,
                                                   alias="NOTIFICATIONS_WORKER_METRICS_PORT")

    # --- derived values -----------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.local_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.local_dir / "run"

    @property
    def opt_dir(self) -> Path:
        return self.local_dir / "opt"

    @property
    def data_dir(self) -> Path:
        return self.local_dir / "data"

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse_dir or self.local_dir / "warehouse"

    @model_validator(mode="after")
    def _no_default_credentials_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        fields = type(self).model_fields
        left = [fields[name].alias or name for name in SECRET_FIELDS
                if getattr(self, name) == fields[name].default]
        short = [fields[name].alias or name for name in SIGNING_KEYS
                 if len(getattr(self, name)) < 32]
        if left or short:
            problems = ([f"still the public local default: {', '.join(left)}"] if left else [])
            problems += [f"shorter than 32 characters: {', '.join(short)}"] if short else []
            raise ValueError("PLATFORM_ENV=production refuses to start; " + "; ".join(problems))
        return self

    @property
    def ivy_cache_dir(self) -> Path:
        return self.local_dir / "cache" / "ivy"

    @property
    def postgres_dsn(self) -> str:
        return self.postgres_dsn_override or self._dsn(self.postgres_db)

    @property
    def registry_jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.postgres_host}:{self.postgres_port}/{self.registry_db}"

    def _dsn(self, db: str) -> str:
        return (
            f"postgresql://{self.postgres_user}:{self.postgres_password}"
            f"@{self.postgres_host}:{self.postgres_port}/{db}"
        )

    @property
    def kafka_bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_override or f"{self.bind_host}:{self.kafka_port}"

    @property
    def schema_registry_url(self) -> str:
        return (
            self.registry_url_override
            or f"http://{self.bind_host}:{self.registry_port}/apis/ccompat/v7"
        )

    @property
    def registry_health_url(self) -> str:
        return f"http://{self.bind_host}:{self.registry_management_port}/health/ready"

    @property
    def s3_endpoint_url(self) -> str:
        return self.s3_endpoint_override or f"http://{self.bind_host}:{self.minio_port}"

    @property
    def lake_root(self) -> str:
        """Root of the Delta tables, as Spark (s3a) names it."""
        return f"s3a://{self.lake_bucket}"

    def lake_http_url(self, relative: str) -> str:
        """The same location as ClickHouse's S3 readers name it (path-style HTTP)."""
        return f"{self.s3_endpoint_url.rstrip('/')}/{self.lake_bucket}/{relative.strip('/')}/"

    @property
    def embedded_warehouse(self) -> bool:
        return not self.clickhouse_url

    @property
    def serving_api_url(self) -> str:
        return f"http://{self.bind_host}:{self.serving_api_port}"

    @property
    def core_api_url(self) -> str:
        return self.core_api_url_override or f"http://{self.bind_host}:{self.core_api_port}"

    @property
    def dashboard_vendor_dir(self) -> Path:
        return self.dashboard_vendor_dir_override or self.opt_dir / "dashboard-vendor"

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.bind_host}:{self.prometheus_port}"

    @property
    def dashboard_url(self) -> str:
        return f"{self.serving_api_url}/dashboard/"

    @property
    def mailpit_url(self) -> str:
        return f"http://{self.bind_host}:{self.mailpit_http_port}"

    @property
    def notify_smtp_host(self) -> str:
        return self.notify_smtp_host_override or self.bind_host

    @property
    def notify_smtp_port(self) -> int:
        return self.notify_smtp_port_override or self.mailpit_smtp_port

    @property
    def notify_public_url(self) -> str:
        return (self.notify_public_url_override or self.core_api_url).rstrip("/")

    @property
    def notify_dashboard_url(self) -> str:
        return (self.notify_dashboard_url_override
                or f"{self.serving_api_url}/dashboard").rstrip("/")


# Credentials whose defaults are published in this file: production must set each one.
SECRET_FIELDS = ("jwt_secret", "pseudonym_secret", "internal_token", "psp_webhook_secret",
                 "postgres_password", "s3_secret_key", "data_encryption_keys",
                 "ads_token_secret", "code_pepper", "notify_webhook_secret",
                 "notify_unsubscribe_secret")
# Keys that sign or derive (HMAC): long enough not to be guessed.
SIGNING_KEYS = ("jwt_secret", "pseudonym_secret", "internal_token", "ads_token_secret",
                "code_pepper", "notify_webhook_secret", "notify_unsubscribe_secret")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
