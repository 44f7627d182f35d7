"""Settings shared by every environment. Every value comes from the environment."""

from pathlib import Path

from django.templatetags.static import static as _static

from .dburl import parse_database_url
from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    # django-unfold: the admin theme (templates, widgets, filters); must precede the admin.
    # BasicAppConfig: unfold's default config would replace our admin site with its own.
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.simple_history",
    # The admin with staff TOTP login and role-aware pages (backoffice.site).
    "backoffice.apps.BackofficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "simple_history",
    "pgtrigger",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_prometheus",
    "common",
    "events",
    "users",
    "wallet",
    "betting",
    "kyc",
    "affiliates",
    "sessions.apps.GameSessionsConfig",
    "reconciliation",
    "backoffice",
    "casino",
    "responsible",
    "bonuses",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "common.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "common.middleware.ContentSecurityPolicyMiddleware",  # CONTENT_SECURITY_POLICY, below
    # Bodies too large, too deep or with NUL bytes: refused before anything reads them
    # (common.edges; limits in the "request edge" block below).
    "common.edges.RequestGuardMiddleware",
    # Static files in every mode (uvicorn serves no /static/ by itself), before anything
    # that touches sessions or the database.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.db_router.ReplicaReadsMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "users.middleware.StaffSessionLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- databases -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/operator")
REPLICA_DATABASE_URL = env_str("REPLICA_DATABASE_URL", "")

DATABASES = {
    "default": {
        **parse_database_url(DATABASE_URL),
        # Requests are not wrapped in one transaction: every service owns its own.
        "ATOMIC_REQUESTS": False,
    }
}
if REPLICA_DATABASE_URL:
    DATABASES["replica"] = {
        **parse_database_url(REPLICA_DATABASE_URL),
        "TEST": {"MIRROR": "default"},
    }
# Pooled connections (psycopg's pool, one per process): a request, task or thread borrows a
# connection and returns it when Django closes it (request end, connection.close()), instead
# of opening a new one each time. Safe with threads and ASGI (one connection per borrower);
# a forked child forgets its parent's pool (common.dbpool). CONN_MAX_AGE stays 0: a pool and
# persistent connections exclude each other. DB_POOL=false: a new connection per request.
DB_POOL = env_bool("DB_POOL", True)
if DB_POOL:
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {
            "min_size": env_int("DB_POOL_MIN_SIZE", 1),
            # Per process: the borrowers one process can have at once (ASGI threads, test
            # threads), not the web workers; PostgreSQL's max_connections bounds the sum.
            "max_size": env_int("DB_POOL_MAX_SIZE", 32),
            "timeout": env_int("DB_POOL_TIMEOUT_S", 10),
            "max_idle": env_int("DB_POOL_MAX_IDLE_S", 300),
        },
    }
DATABASE_ROUTERS = ["config.db_router.PrimaryReplicaRouter"]
REPLICA_MAX_LAG_S = env_int("REPLICA_MAX_LAG_S", 5)

# --- replicas, pooler, failover (issue 16; docs/deploy.md "High availability") ----------
# Behind PgBouncer in transaction pooling a server connection is ours for one transaction:
# no server-side prepared statements (psycopg's auto-prepare off). Server-side cursors are
# only opened inside transactions (exports, scans), which keep their server connection.
DATABASE_POOL_MODE = env_str("DATABASE_POOL_MODE", "session")
if DATABASE_POOL_MODE == "transaction":
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
# How often one process re-measures the replica (seconds, may be fractional).
REPLICA_CHECK_INTERVAL_S = float(env_str("REPLICA_CHECK_INTERVAL_S", "1"))
# A player's read-your-writes pin ends when the replica replays past their last write;
# this TTL only collects the key (a replica that far behind is past REPLICA_MAX_LAG_S).
REPLICA_PIN_TTL_S = env_int("REPLICA_PIN_TTL_S", 3600)
REPLICA_PIN_NAMESPACE = env_str("REPLICA_PIN_NAMESPACE", str(DATABASES["default"]["NAME"]))
# --- end replicas

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates to the second with the time zone everywhere (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
# `manage.py collectstatic` fills it (scripts/web.sh does, before the server starts);
# WhiteNoise serves it with far-future caching of hashed names in production.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# KYC documents live outside any URL the web server serves; views stream them to staff.
PRIVATE_MEDIA_ROOT = Path(env_str("PRIVATE_MEDIA_ROOT", str(BASE_DIR / "var" / "private")))

# --- redis, channels, celery --------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT_S", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT_S", 240)
# visibility_timeout: set below (exactly-once block) from the longest task time limit.
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep our JSON log lines in workers too
CELERY_TASK_MAX_REDELIVERIES = env_int("CELERY_TASK_MAX_REDELIVERIES", 5)

# Periodic jobs. beat's DatabaseScheduler copies these into the database at start, where
# staff can change intervals from the admin.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}

# --- domain settings ----------------------------------------------------------------------
SANDBOX_PROVIDER_SECRET = env_str("SANDBOX_PROVIDER_SECRET", "")
WEBHOOK_TOLERANCE_S = 300
KYC_WITHDRAWAL_THRESHOLD = env_str("KYC_WITHDRAWAL_THRESHOLD", "0")
# Thresholds and limits (KYC_WITHDRAWAL_THRESHOLD, WITHDRAWAL_SECOND_APPROVAL_THRESHOLD, market
# stake/payout limits) are written in BASE_CURRENCY and converted through CURRENCY_RATES:
# "<CUR>:<units of CUR per one BASE_CURRENCY unit>" (common.money.base_amount_to_minor).
BASE_CURRENCY = env_str("BASE_CURRENCY", "USD")
CURRENCY_RATES = env_str("CURRENCY_RATES", "EUR:0.95,GBP:0.8,USDT:1,BTC:0.00001")
GAME_SESSION_HEARTBEAT_INTERVAL_S = env_int("GAME_SESSION_HEARTBEAT_INTERVAL_S", 5)
GAME_SESSION_TIMEOUT_S = env_int("GAME_SESSION_TIMEOUT_S", 15)
GAME_SESSION_SWEEP_INTERVAL_S = env_int("GAME_SESSION_SWEEP_INTERVAL_S", 5)
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
WITHDRAWAL_PLAYER_CANCEL_ALLOWED = env_bool("WITHDRAWAL_PLAYER_CANCEL_ALLOWED", False)
# Compliance gates (common.gates): callables run by every money service inside its
# transaction on the player's locked compliance row; each raises a DomainError to refuse.
# Apps append theirs (KYC/AML below; responsible gambling, ...).
COMPLIANCE_GATES: list[str] = []
# Locks (creating if needed) the per-player compliance row the gates read.
COMPLIANCE_ROW_LOCK = "kyc.lock_objects.compliance_row_lock"
# Hooks around the money transactions (common.hooks.hooks_run): before a deposit's
# transaction (may call external registers), after a stake returns money (inside the
# settlement transaction, never refusing), and around registration and login.
DEPOSIT_PRECHECKS: list[str] = []
STAKE_RETURN_HOOKS: list[str] = []
STAKE_RETURN_BATCH_HOOKS: list[str] = []  # the same, for a batch of settled stakes at once
DEPOSIT_FAILED_HOOKS: list[str] = []
DEPOSIT_CREDIT_HOOKS: list[str] = []
WITHDRAWAL_REQUEST_HOOKS: list[str] = []
USER_REGISTRATION_CHECKS: list[str] = []
USER_REGISTERED_HOOKS: list[str] = []
USER_LOGIN_HOOKS: list[str] = []
# Health checks that only degrade /readyz (lag monitors): dotted paths, see common.health.
READINESS_DEGRADATION_CHECKS: list[str] = []
# Named /readyz checks that only degrade it: {name: dotted path returning a problem or None}.
READINESS_CHECKS: dict[str, str] = {}

# --- wallet (issue 3) ----------------------------------------------------------------------
# Withdrawals of at least this amount (decimal string in the withdrawal's currency) need two
# different approvers. Empty: never.
WITHDRAWAL_SECOND_APPROVAL_THRESHOLD = env_str("WITHDRAWAL_SECOND_APPROVAL_THRESHOLD", "1000")
CELERY_BEAT_SCHEDULE["withdrawal-send-pending"] = {
    "task": "wallet.tasks.withdrawal_send_pending_task",
    "schedule": float(env_int("WITHDRAWAL_SEND_REDRIVE_INTERVAL_S", 60)),
}
# Refunds of at least this amount (BASE_CURRENCY, converted) need a second staff member's
# approval; below it a payments officer's request is approved by policy. Empty: never.
REFUND_SECOND_APPROVAL_THRESHOLD = env_str("REFUND_SECOND_APPROVAL_THRESHOLD", "500")
CELERY_BEAT_SCHEDULE["refund-send-pending"] = {
    "task": "wallet.tasks.refund_send_pending_task",
    "schedule": float(env_int("REFUND_SEND_REDRIVE_INTERVAL_S", 60)),
}
CELERY_BEAT_SCHEDULE["idempotency-expire"] = {
    "task": "common.tasks.idempotency_expire_task",
    "schedule": 3600.0,
}
# --- end wallet

# --- betting (issue 4) ---------------------------------------------------------------------
# Most legs in one accumulator (each on a different event).
BETTING_MAX_ACCUMULATOR_LEGS = env_int("BETTING_MAX_ACCUMULATOR_LEGS", 10)
# Hard time limit of one market settlement task; a killed run is safely run again.
BETTING_SETTLEMENT_TIME_LIMIT_S = env_int("BETTING_SETTLEMENT_TIME_LIMIT_S", 600)
# Markets with more unsettled bets than this are settled by parallel chunk tasks.
BETTING_SETTLEMENT_CHUNK = env_int("BETTING_SETTLEMENT_CHUNK", 500)
# Bets settled per database transaction (set-based: a constant number of statements each).
BETTING_SETTLEMENT_BATCH = env_int("BETTING_SETTLEMENT_BATCH", 250)
# Re-drive: a resulted market with bets not at its result and no progress (no result, no
# bet settled) for this long has lost its task; beat queues it again every interval.
BETTING_SETTLEMENT_REDRIVE_AFTER_S = env_int("BETTING_SETTLEMENT_REDRIVE_AFTER_S", 60)
CELERY_BEAT_SCHEDULE["betting-settlement-redrive"] = {
    "task": "betting.market_settlement_redrive",
    "schedule": float(env_int("BETTING_SETTLEMENT_REDRIVE_INTERVAL_S", 30)),
    "options": {"expires": 60},
}
# --- end betting

# --- kyc (issue 5) -------------------------------------------------------------------------
# KYC_WITHDRAWAL_THRESHOLD (domain settings above) is read by kyc.gates.compliance_gate.
KYC_DOCUMENT_MAX_BYTES = env_int("KYC_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)
# Images are judged from their header before any decode (kyc.documents, docs/kyc.md):
# pixels (24 MP: a 6000x4000 photo), decoded bytes, decoded bytes per file byte (a
# decompression bomb), and the decoded bytes of all images of one upload.
KYC_IMAGE_MAX_PIXELS = env_int("KYC_IMAGE_MAX_PIXELS", 24_000_000)
KYC_IMAGE_MAX_DECODED_BYTES = env_int("KYC_IMAGE_MAX_DECODED_BYTES", 96 * 1024 * 1024)
KYC_IMAGE_MAX_COMPRESSION_RATIO = env_int("KYC_IMAGE_MAX_COMPRESSION_RATIO", 250)
KYC_UPLOAD_MAX_DECODED_BYTES = env_int("KYC_UPLOAD_MAX_DECODED_BYTES", 192 * 1024 * 1024)
COMPLIANCE_GATES = [*COMPLIANCE_GATES, "kyc.gates.compliance_gate"]
# --- end kyc

# --- game sessions (issue 6) ---------------------------------------------------------------
# GAME_SESSION_HEARTBEAT_INTERVAL_S / _TIMEOUT_S / _SWEEP_INTERVAL_S are read above.
# The sweeper expires sessions whose ASGI process died with them (its timer died too).
CELERY_BEAT_SCHEDULE["game-sessions-sweep"] = {
    "task": "sessions.sweep_stale_game_sessions",
    "schedule": float(GAME_SESSION_SWEEP_INTERVAL_S),
    # A backlog of sweeps (worker down) is useless: each run covers every due session.
    "options": {"expire_seconds": max(2 * GAME_SESSION_SWEEP_INTERVAL_S, 2)},
}
# Threads (each with its own persistent connection) serving the session sockets' DB calls
# in one ASGI process.
GAME_SESSION_DB_THREADS = env_int("GAME_SESSION_DB_THREADS", 4)
# Where browsers open game-session sockets when the ASGI server is not behind the same
# host:port as the HTTP API (make run: `ws://127.0.0.1:<WS_PORT>`). Empty: the request's host.
WEBSOCKET_BASE_URL = env_str("WEBSOCKET_BASE_URL", "")
# The live-session watcher (reality checks, session time) and the reality-check answer:
# dotted paths another app registers (responsible gambling below); empty: none.
GAME_SESSION_WATCH = ""
GAME_SESSION_REALITY_CHECK_ACK = ""
# --- end game sessions

# --- reconciliation, outbox, monitoring (issue 7) ------------------------------------------
# Outbox relay: events per batch, and how long one relay task may drain before yielding.
OUTBOX_RELAY_BATCH_SIZE = env_int("OUTBOX_RELAY_BATCH_SIZE", 500)
OUTBOX_RELAY_MAX_SECONDS = env_int("OUTBOX_RELAY_MAX_SECONDS", 10)
# Events per consume message the relay sends (each still applied in its own transaction).
OUTBOX_CONSUME_BATCH = env_int("OUTBOX_CONSUME_BATCH", 100)
# Sent events a consumer has not applied after this long are published to it again.
OUTBOX_REDELIVER_AFTER_S = env_int("OUTBOX_REDELIVER_AFTER_S", 300)
# Lag thresholds (seconds / messages): crossing one records an Alert and degrades /readyz.
LAG_OUTBOX_OLDEST_UNSENT_S = env_int("LAG_OUTBOX_OLDEST_UNSENT_S", 30)
LAG_CONSUMER_S = env_int("LAG_CONSUMER_S", 30)
LAG_QUEUE_DEPTH = env_int("LAG_QUEUE_DEPTH", 10_000)
LAG_REPLICA_S = env_int("LAG_REPLICA_S", REPLICA_MAX_LAG_S)
# Only events younger than this are scanned for per-consumer lag (older ones are covered
# by the outbox_unsent stuck check and by parked-task alerts).
LAG_CONSUMER_HORIZON_S = env_int("LAG_CONSUMER_HORIZON_S", 86_400)
# Stuck-state ages (seconds) for the reconciliation job.
STUCK_DEPOSIT_PENDING_S = env_int("STUCK_DEPOSIT_PENDING_S", 3600)
STUCK_WITHDRAWAL_PROCESSING_S = env_int("STUCK_WITHDRAWAL_PROCESSING_S", 3600)
STUCK_ROUND_OPEN_S = env_int("STUCK_ROUND_OPEN_S", 900)
STUCK_SESSION_HEARTBEAT_S = env_int("STUCK_SESSION_HEARTBEAT_S", 120)
STUCK_OUTBOX_UNSENT_S = env_int("STUCK_OUTBOX_UNSENT_S", 300)
# Work whose task or request was lost (issue 11): keys in progress, resulted markets with
# bets not settled, approved withdrawals not sent, callbacks nobody reviewed.
STUCK_IDEMPOTENCY_KEY_S = env_int("STUCK_IDEMPOTENCY_KEY_S", 60)
STUCK_MARKET_UNSETTLED_S = env_int("STUCK_MARKET_UNSETTLED_S", 300)
STUCK_WITHDRAWAL_APPROVED_S = env_int("STUCK_WITHDRAWAL_APPROVED_S", 300)
STUCK_CALLBACK_REVIEW_S = env_int("STUCK_CALLBACK_REVIEW_S", 0)
# work_mem for the reconciliation transaction (per-transaction sums are one hash entry each).
RECONCILIATION_WORK_MEM = env_str("RECONCILIATION_WORK_MEM", "256MB")
READINESS_DEGRADATION_CHECKS.append("reconciliation.monitoring.readiness_degradations")
# How a task parked after the redelivery cap is alerted (events sits below reconciliation).
EVENTS_TASK_PARKED_ALERT = "reconciliation.services.task_parked_alert"
CELERY_BEAT_SCHEDULE["outbox-relay"] = {
    "task": "events.tasks.outbox_relay_task",
    "schedule": float(env_int("OUTBOX_RELAY_INTERVAL_S", 1)),
    "options": {"expires": 10},
}
CELERY_BEAT_SCHEDULE["lag-monitor"] = {
    "task": "reconciliation.tasks.lag_monitor_task",
    "schedule": float(env_int("LAG_MONITOR_INTERVAL_S", 15)),
    "options": {"expires": 30},
}
# Hard time limit of the reconciliation task (a full scan of the ledger).
RECONCILE_TIME_LIMIT_S = env_int("RECONCILE_TIME_LIMIT_S", 1800)
# Celery liveness seen from outside the workers (reconciliation/liveness.py): worker and
# beat heartbeats in Redis, a probe task, checked by beat and by the web tier.
CELERY_HEARTBEAT_INTERVAL_S = env_int("CELERY_HEARTBEAT_INTERVAL_S", 5)
CELERY_WORKER_STALL_S = env_int("CELERY_WORKER_STALL_S", 30)
CELERY_WORKER_FORGET_S = env_int("CELERY_WORKER_FORGET_S", 900)
CELERY_LIVENESS_CHECK_INTERVAL_S = env_int("CELERY_LIVENESS_CHECK_INTERVAL_S", 10)
CELERY_PROBE_INTERVAL_S = env_int("CELERY_PROBE_INTERVAL_S", 10)
READINESS_CHECKS["celery"] = "reconciliation.liveness.readiness_problem"
CELERY_BEAT_SCHEDULE["celery-probe"] = {
    "task": "reconciliation.worker_probe",
    "schedule": float(CELERY_PROBE_INTERVAL_S),
    "options": {"expires": float(CELERY_PROBE_INTERVAL_S)},
}
CELERY_BEAT_SCHEDULE["reconcile"] = {
    "task": "reconciliation.tasks.reconcile_task",
    "schedule": float(env_int("RECONCILE_INTERVAL_S", 900)),
    "options": {"expires": 600},
}
# --- end reconciliation

# --- backoffice (issue 8) ------------------------------------------------------------------
# Rows fetched per round trip by audit exports (server-side cursor): bounds their memory.
BACKOFFICE_EXPORT_CHUNK_SIZE = env_int("BACKOFFICE_EXPORT_CHUNK_SIZE", 2000)
# Staff must pass a TOTP code at the admin login; only tests of unrelated pages turn it off.
BACKOFFICE_REQUIRE_OTP = env_bool("BACKOFFICE_REQUIRE_OTP", True)
# Largest manual adjustment (absolute, in the currency's major units) one proposal may carry.
BACKOFFICE_ADJUSTMENT_MAX = env_str("BACKOFFICE_ADJUSTMENT_MAX", "10000")
# TOTP secrets are shown only while a device is being added (enrolment), never afterwards:
# no key, QR code or config URL on the device list and change pages.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Issuer shown in authenticator apps for staff TOTP devices.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Operator backoffice")
# The admin theme (django-unfold). The sidebar is built per request from the staff member's
# permissions (backoffice.navigation): a role sees only the pages it can use.
UNFOLD = {
    "SITE_TITLE": "Operator backoffice",
    "SITE_HEADER": "Operator backoffice",
    "SITE_SYMBOL": "casino",
    "SHOW_VIEW_ON_SITE": False,
    "ENVIRONMENT": "backoffice.navigation.environment",
    "STYLES": [lambda request: _static("backoffice/backoffice.css")],
    "SCRIPTS": [lambda request: _static("backoffice/backoffice.js")],
    "SIDEBAR": {
        "show_search": False,
        "show_all_applications": False,
        "navigation": "backoffice.navigation.sidebar",
    },
}
# --- end backoffice

# --- casino: seamless wallet for game providers (issue 17) ---------------------------------
# Launch tokens: bets need an unexpired one; wins and rollbacks accept an expired one.
CASINO_LAUNCH_TOKEN_TTL_S = env_int("CASINO_LAUNCH_TOKEN_TTL_S", 3600)
# Per-provider configuration and policy (casino.policy; docs/seamless-wallet.md).
CASINO_PROVIDERS = {
    "sandbox": {
        "adapter": "sandbox",
        "secret": env_str("CASINO_SANDBOX_SECRET", ""),
        "signature_tolerance_s": env_int("CASINO_SANDBOX_SIGNATURE_TOLERANCE_S", 300),
        "unknown_rollback": env_str("CASINO_SANDBOX_UNKNOWN_ROLLBACK", "ok"),
        "win_after_rollback": env_str("CASINO_SANDBOX_WIN_AFTER_ROLLBACK", "refuse"),
        "round_close": env_str("CASINO_SANDBOX_ROUND_CLOSE", "flag"),
        "game_url": env_str("CASINO_SANDBOX_GAME_URL",
                            "/casino/sandbox/play/?token={token}&game={game}&currency={currency}"),
    },
    "hub88": {
        "adapter": "hub88",
        "public_key": env_str("CASINO_HUB88_PUBLIC_KEY", ""),
        "public_key_file": env_str("CASINO_HUB88_PUBLIC_KEY_FILE", ""),
        "unknown_rollback": env_str("CASINO_HUB88_UNKNOWN_ROLLBACK", "ok"),
        "win_after_rollback": env_str("CASINO_HUB88_WIN_AFTER_ROLLBACK", "refuse"),
        "round_close": env_str("CASINO_HUB88_ROUND_CLOSE", "flag"),
        "game_url": env_str("CASINO_HUB88_GAME_URL",
                            "https://hub88.example/games/{game}?token={token}&currency={currency}"),
        "wire_decimals": 5,
    },
}
# --- end casino

# --- exactly once under faults (issue 11, docs/faults.md) ---------------------------------
# Redis hands an unacknowledged task to another worker after the visibility timeout: longer
# than any task may run (its hard time limit) and than any countdown (<= 60 s), so a running
# task is never delivered twice; a task of a worker killed outright comes back within it.
# The beat re-drives (settlement, withdrawal sends) recover lost work sooner.
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = env_int(
    "CELERY_VISIBILITY_TIMEOUT_S",
    max(CELERY_TASK_TIME_LIMIT, BETTING_SETTLEMENT_TIME_LIMIT_S, RECONCILE_TIME_LIMIT_S) + 60)
# --- end exactly once
# --- responsible gambling (issue 18) -------------------------------------------------------
# Hours between a player's request to raise or remove a limit and the moment they may
# confirm it; hours between asking to return after a self-exclusion and the reopening.
RG_LIMIT_COOLING_OFF_H = env_int("RG_LIMIT_COOLING_OFF_H", 24)
RG_RETURN_COOLING_OFF_H = env_int("RG_RETURN_COOLING_OFF_H", 24)
RG_TIMEOUT_MIN_DAYS = 1
RG_TIMEOUT_MAX_DAYS = 42
RG_SELF_EXCLUSION_MIN_MONTHS = 6
RG_SELF_EXCLUSION_MAX_MONTHS = 60
# Shortest reality-check interval a player may choose.
RG_REALITY_CHECK_MIN_S = env_int("RG_REALITY_CHECK_MIN_S", 300)
# The external self-exclusion register adapter, and how long one answer is trusted.
RG_EXCLUSION_REGISTER = env_str("RG_EXCLUSION_REGISTER", "responsible.register.SandboxRegister")
RG_REGISTER_CACHE_S = env_int("RG_REGISTER_CACHE_S", 3600)
RG_SANDBOX_EXCLUDED_EMAILS = env_list("RG_SANDBOX_EXCLUDED_EMAILS", [])
RG_SCHEMA_ENUMS = {
    "RGLimitKindEnum": "responsible.models.LimitKind",
    "RGExclusionKindEnum": "responsible.models.ExclusionKind",
}
# The money gate (common.gates) and the hooks around it; see responsible/hooks.py.
DEPOSIT_PRECHECKS = [*DEPOSIT_PRECHECKS, "responsible.hooks.deposit_precheck"]
COMPLIANCE_GATES = [*COMPLIANCE_GATES, "responsible.gates.compliance_gate"]
STAKE_RETURN_HOOKS = [*STAKE_RETURN_HOOKS, "responsible.hooks.stake_returned"]
STAKE_RETURN_BATCH_HOOKS = [*STAKE_RETURN_BATCH_HOOKS, "responsible.hooks.stakes_returned"]
DEPOSIT_FAILED_HOOKS = [*DEPOSIT_FAILED_HOOKS, "responsible.hooks.deposit_failed"]
USER_REGISTRATION_CHECKS = [*USER_REGISTRATION_CHECKS, "responsible.hooks.registration_check"]
USER_REGISTERED_HOOKS = [*USER_REGISTERED_HOOKS, "responsible.hooks.registered"]
USER_LOGIN_HOOKS = [*USER_LOGIN_HOOKS, "responsible.hooks.login"]
GAME_SESSION_WATCH = "responsible.services.session_watch"
GAME_SESSION_REALITY_CHECK_ACK = "responsible.services.reality_check_acknowledge"
CELERY_BEAT_SCHEDULE["responsible-exclusions"] = {
    "task": "responsible.tasks.exclusions_task",
    "schedule": 60.0,
    "options": {"expires": 120},
}
# --- end responsible gambling

# --- request edge (issue 12; common.edges, docs/architecture.md "Errors") ----------------
# Largest non-multipart body (JSON, forms), checked from Content-Length: 413 body_too_large.
# Keep it at or under DATA_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB default).
REQUEST_BODY_MAX_BYTES = env_int("REQUEST_BODY_MAX_BYTES", 1024 * 1024)
# Largest multipart upload: every KYC document kind at its own limit, plus the form.
REQUEST_UPLOAD_MAX_BYTES = env_int("REQUEST_UPLOAD_MAX_BYTES",
                                   5 * KYC_DOCUMENT_MAX_BYTES + 1024 * 1024)
# Deepest JSON nesting (arrays and objects) of a body or a WebSocket message: 400 body_too_deep.
REQUEST_JSON_MAX_DEPTH = env_int("REQUEST_JSON_MAX_DEPTH", 32)
# Largest game-session WebSocket message (the socket answers an error and stays open).
WEBSOCKET_MESSAGE_MAX_BYTES = env_int("WEBSOCKET_MESSAGE_MAX_BYTES", 64 * 1024)
# --- end request edge

# --- bonuses (docs/bonuses.md) --------------------------------------------------------------
DEPOSIT_CREDIT_HOOKS = [*DEPOSIT_CREDIT_HOOKS, "bonuses.services.deposit_credited"]
WITHDRAWAL_REQUEST_HOOKS = [*WITHDRAWAL_REQUEST_HOOKS, "bonuses.services.withdrawal_requested"]
CELERY_BEAT_SCHEDULE["bonuses-expire"] = {
    "task": "bonuses.tasks.bonuses_expire_task",
    "schedule": float(env_int("BONUS_EXPIRY_INTERVAL_S", 60)),
    "options": {"expires": 120},
}
# --- end bonuses

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["users.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "common.schema.AutoSchema",
    "EXCEPTION_HANDLER": "common.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("LOGIN_THROTTLE_RATE", "10/min"),
        "register": env_str("REGISTER_THROTTLE_RATE", "20/hour"),
        # KYC document uploads per player (each may decode images: issue 12).
        "kyc_upload": env_str("KYC_UPLOAD_THROTTLE_RATE", "10/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles read the client address from common.netaddr, never from X-Forwarded-For.
    "NUM_PROXIES": 0,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Operator platform API",
    "DESCRIPTION": (
        "Players, payment providers and staff.\n\n"
        "- Authenticate with `Authorization: Bearer <token>` from `POST /api/v1/auth/token/`.\n"
        "- Amounts are decimal strings in the currency's units (`\"12.50\"`), never floats.\n"
        "- Every money POST requires an `Idempotency-Key` header: a fresh value per operation, "
        "the same value to retry it.\n"
        "- Every refusal is `{\"code\", \"detail\"}` with a stable `code`; each operation "
        "lists the codes it can answer."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {**RG_SCHEMA_ENUMS},
    # Currency enum and tag descriptions (common.schema); the default hook names enums.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "common.schema.postprocess"],
}
# Development helpers (common.devtools); only the dev and test settings turn them on.
DEV_TOOLS_ENABLED = False
# Per-operation summaries, descriptions and business refusals for the schema (common.schema).
API_OPERATION_DOCS = "config.api_docs.OPERATIONS"
# Refusals any operation can answer (the request guards in front of every view), and those
# any staff (backoffice) operation can answer: (status, code) pairs.
API_GLOBAL_ERRORS: list[tuple[int, str]] = []
API_STAFF_ERRORS: list[tuple[int, str]] = []

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

# --- security & staff login ---------------------------------------------------------------
# --- credentials (issue 12; docs/auth.md) -------------------------------------------------
# API tokens (users.tokens): a sliding idle limit from the last use and an absolute limit
# from the login, per kind. Staff defaults are what a regulated operator's policy asks of a
# privileged session (15 minutes idle, one 8-hour shift).
AUTH_PLAYER_TOKEN_IDLE_S = env_int("AUTH_PLAYER_TOKEN_IDLE_S", 24 * 3600)
AUTH_PLAYER_TOKEN_MAX_AGE_S = env_int("AUTH_PLAYER_TOKEN_MAX_AGE_S", 30 * 24 * 3600)
AUTH_STAFF_TOKEN_IDLE_S = env_int("AUTH_STAFF_TOKEN_IDLE_S", 15 * 60)
AUTH_STAFF_TOKEN_MAX_AGE_S = env_int("AUTH_STAFF_TOKEN_MAX_AGE_S", 8 * 3600)
# last_used_at is written at most this often per token (authentication stays one SELECT).
AUTH_TOKEN_TOUCH_INTERVAL_S = env_int("AUTH_TOKEN_TOUCH_INTERVAL_S", 60)
# The staff admin session (users.middleware.StaffSessionLimitMiddleware): idle and absolute.
AUTH_STAFF_SESSION_IDLE_S = env_int("AUTH_STAFF_SESSION_IDLE_S", 15 * 60)
AUTH_STAFF_SESSION_MAX_AGE_S = env_int("AUTH_STAFF_SESSION_MAX_AGE_S", 8 * 3600)
SESSION_COOKIE_AGE = AUTH_STAFF_SESSION_MAX_AGE_S
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# `manage.py seed_demo` (demo staff with a published password); settings.production: False.
DEMO_DATA_ALLOWED = True
# Paths where only a credential that passed TOTP is accepted, whoever holds it.
STAFF_API_PATH_PREFIXES = ["/api/v1/backoffice/"]
# The operator's own reverse proxies (addresses or CIDR networks). X-Forwarded-For is read
# only on connections from them (common.netaddr.client_ip); empty: never.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 1  # hours
AXES_RESET_ON_SUCCESS = True
# Username and IP together: a guesser is stopped per account and address, and nobody can
# lock an account (say `administrator`) out for everyone from their own address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "common.netaddr.client_ip"
AXES_LOCKOUT_CALLABLE = "users.lockout.lockout_response"
# --- end credentials
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True  # staff reasons are never truncated

# --- logging ------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "common.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "common.logging.JsonFormatter",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
    },
}

# --- production edges (issue 12): Content-Security-Policy, /metrics, API docs ---------------
# One policy on every response (common.middleware.ContentSecurityPolicyMiddleware): scripts
# only from our own static files (no inline script, no eval: the admin runs Alpine's CSP
# build), inline styles allowed (unfold's templates set style attributes), sockets to our own
# origin and to WEBSOCKET_BASE_URL's (make run serves WebSockets on PORT+1).
_WS_ORIGIN = "/".join(WEBSOCKET_BASE_URL.split("/")[:3]) if WEBSOCKET_BASE_URL else ""
CONTENT_SECURITY_POLICY = env_str("CONTENT_SECURITY_POLICY", "") or (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; "
    f"connect-src 'self'{' ' + _WS_ORIGIN if _WS_ORIGIN else ''}; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# /metrics (common.views.metrics): open where METRICS_PUBLIC (dev, test); otherwise only with
# `Authorization: Bearer <METRICS_TOKEN>` or from METRICS_ALLOWED_NETWORKS (CIDRs, matched
# against the socket's peer address). Production turns METRICS_PUBLIC off.
METRICS_PUBLIC = env_bool("METRICS_PUBLIC", True)
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
# /api/schema/ and /api/docs/ (common.views.ApiDocsAccess): public where API_DOCS_PUBLIC (dev,
# test); otherwise staff only (an OTP-verified admin session or a staff API credential).
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", True)

# --- affiliates (issue 19) -------------------------------------------------------------------
# Registration passes an optional affiliate code to these hooks inside its transaction.
USER_REGISTRATION_ATTRIBUTION_HOOKS = ["affiliates.hooks.registration_attribute"]
# Ledger kinds whose cash credits to a referred player are bonus cost in the NGR.
AFFILIATE_BONUS_COST_KINDS = env_str("AFFILIATE_BONUS_COST_KINDS", "bonus_convert").split(",")
# Closing the previous month is idempotent: run daily, the first run of a month closes it.
CELERY_BEAT_SCHEDULE["affiliates-close-previous-month"] = {
    "task": "affiliates.tasks.affiliates_close_previous_month_task",
    "schedule": 86400.0,
}
# --- end affiliates
