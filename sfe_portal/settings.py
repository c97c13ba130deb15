"""Settings, read from the environment only (see `.env.example` for every variable).

With nothing set, the project runs on embedded defaults that need no server: SQLite under
`var/`, Celery's `filesystem://` transport under `var/celery/`, receipts under `var/media/` and
the Codat sandbox mounted at `/codat-sandbox/`. Production (`DEBUG=false`) refuses to start
without the variables it cannot guess, and says which one is missing.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from sfe_portal.error_tracking import error_tracking_init, git_commit

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SFE_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

env = environ.Env()
# A developer's `.env` is read when present; real environment variables always win.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "dev-only-insecure-secret-key-never-use-in-production"
DEV_CODAT_API_KEY = "sandbox-api-key"
# Svix secrets are "whsec_" + base64 of the key bytes; this one is public and for dev only.
DEV_WEBHOOK_SECRET = "whsec_c2ZlLXBvcnRhbC1kZXYtd2ViaG9vay1zZWNyZXQ="


def _required(name: str, reason: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable: {reason}")
    return value


DEBUG = env.bool("DEBUG", default=True)
TESTING = env.bool("SFE_TESTING", default="pytest" in sys.modules)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
else:
    SECRET_KEY = _required("SECRET_KEY", "production (DEBUG=false) needs a real secret key.")
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "Set the SECRET_KEY environment variable to a random value of at least 32 characters: "
            "the development key cannot be used with DEBUG=false."
        )
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "Set the ALLOWED_HOSTS environment variable (comma-separated host names): "
            "production (DEBUG=false) serves only the hosts it is told about."
        )

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "gateway",
    "companies",
    "expenses",
    "syncs",
    "notices",
    "demo",
]

SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
# The emulator's pages (a connection's link page, its control surface) answer anyone holding
# the key it shares with the portal: with DEBUG off it runs only when asked for by name.
SANDBOX_IN_PRODUCTION = env.bool("SANDBOX_IN_PRODUCTION", default=False)
if SANDBOX_ENABLED and not DEBUG and not SANDBOX_IN_PRODUCTION:
    raise ImproperlyConfigured(
        "Set SANDBOX_ENABLED=false with DEBUG=false: the Codat sandbox is an emulator for "
        "development. For a staging demo only, set SANDBOX_IN_PRODUCTION=true to run it anyway."
    )
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "sfe_portal.logs.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "sfe_portal.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks the session's user verified once they gave their second factor (user.is_verified()).
    "django_otp.middleware.OTPMiddleware",
    # Every page needs a signed-in user unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Records who made each change kept in a model's history (simple_history).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Signs out idle and too-old sessions (after auth, messages and htmx: it uses all three).
    "accounts.session_timeout.SessionTimeoutMiddleware",
    # Each person's own time zone for every date and time shown.
    "accounts.time_zones.UserTimeZoneMiddleware",
    # A staff session that still owes its second factor reaches only the code step (after the
    # session timeout: a session signed out there is not sent to the code step).
    "accounts.two_factor.SecondFactorMiddleware",
    # A sign-in refused for a lock answers 429 (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sfe_portal.urls"
WSGI_APPLICATION = "sfe_portal.wsgi.application"
ASGI_APPLICATION = "sfe_portal.asgi.application"

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
                "companies.context_processors.company_banner",
            ],
            # Amounts as each currency counts them, in every template.
            "builtins": ["sfe_portal.money_tags"],
        },
    },
    {
        # Only the templates rendered too often for the language above: the queue's rows.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "sfe_portal.jinja_env.environment"},
    },
]

# --- Database ---------------------------------------------------------------------------------
SQLITE_PATH = Path(env.str("SQLITE_PATH", default=str(VAR_DIR / "db.sqlite3")))
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The data a page or a push reads is in memory or on SSD, where PostgreSQL's default cost
    # of a random read (four times a sequential one) is a spinning disk's. With it, below ~100,000
    # expenses the planner reads the whole table for each thousand expenses a push moves, where
    # their primary key finds them in a fraction of the time. Empty: the server's own setting.
    RANDOM_PAGE_COST = env.str("DATABASE_RANDOM_PAGE_COST", default="1.1")
    if RANDOM_PAGE_COST and DATABASES["default"]["ENGINE"].endswith("postgresql"):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = (
            f"{options.get('options', '')} -c random_page_cost={float(RANDOM_PAGE_COST)}".strip()
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            # Web, worker and beat share one file: WAL lets readers run beside the writer,
            # IMMEDIATE transactions take the write lock up front instead of failing mid-way,
            # and the timeout makes a busy writer wait rather than raise "database is locked".
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            # A file, not memory, so that a real worker process can share the test database.
            "TEST": {"NAME": VAR_DIR / "test-db.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
# The dashboard's covering indexes carry INCLUDE columns on PostgreSQL; SQLite builds the same
# index on its key columns alone, which is all the embedded default needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"] if IS_SQLITE else []

# --- Auth -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Sign-in throttling (django-axes, accounts/lockouts.py), counted in the database so every web
# process sees the same failures: SIGNIN_USERNAME_FAILURES failed sign-ins for one username lock
# it, and SIGNIN_IP_FAILURES from one client address lock the address, until
# SIGNIN_LOCKOUT_MINUTES after the failure that made the lock; failures further apart than that
# do not add up. While locked no password is checked, and the page answers 429 with the end time.
SIGNIN_USERNAME_FAILURES = env.int("SIGNIN_USERNAME_FAILURES", default=5)
SIGNIN_IP_FAILURES = env.int("SIGNIN_IP_FAILURES", default=20)
SIGNIN_LOCKOUT_MINUTES = env.int("SIGNIN_LOCKOUT_MINUTES", default=15)
if min(SIGNIN_USERNAME_FAILURES, SIGNIN_IP_FAILURES, SIGNIN_LOCKOUT_MINUTES) < 1:
    raise ImproperlyConfigured(
        "Set SIGNIN_USERNAME_FAILURES, SIGNIN_IP_FAILURES and SIGNIN_LOCKOUT_MINUTES to 1 or more."
    )
# How many proxies (load balancer, CDN…) stand in front of the portal, each adding the address
# it received the request from to X-Forwarded-For. 0: the client is REMOTE_ADDR and the header
# is ignored (anyone can write it). N: the client is the N-th address from the right of the
# header, which the trusted proxies wrote; what a client put to the left of it is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(
        "Set TRUSTED_PROXY_COUNT to the number of proxies in front of the portal (0 or more)."
    )
AUTHENTICATION_BACKENDS = [
    # Refuses a locked username or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "accounts.lockouts.SignInLockHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The two limits are the handler's (SIGNIN_*_FAILURES): axes' own single-limit check never
# locks on its own.
AXES_LOCK_OUT_AT_FAILURE = False
AXES_COOLOFF_TIME = "accounts.lockouts.cool_off"  # SIGNIN_LOCKOUT_MINUTES
# A failure while locked is not counted, so the lock ends when the page said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A good sign-in clears that username's failures (the address keeps the others': the handler).
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
# The sign-in page (the portal's or the admin's) says why and until when (accounts/forms.py);
# axes' middleware sends it with status 429.
AXES_LOCKOUT_CALLABLE = "accounts.lockouts.lockout_response"
AXES_ENABLE_ADMIN = False  # accounts/admin.py shows the locks, and lifts them
AXES_VERBOSE = False
# Successful sign-ins are not kept (axes would keep one row for each, for ever).
AXES_DISABLE_ACCESS_LOG = True
# Staff sign in with a second factor, a TOTP code from an authenticator app (django-otp), where
# STAFF_TOTP_REQUIRED (default: in production, DEBUG=false); in development a staff account
# gives one only once it has set up an app, so the demo sign-ins work with a password alone.
# Empty (as .env.example has it) is the default: a copied example never turns codes off.
_STAFF_TOTP_REQUIRED = env.str("STAFF_TOTP_REQUIRED", default="").strip().lower()
if _STAFF_TOTP_REQUIRED not in {"", "true", "false", "1", "0", "yes", "no", "on", "off"}:
    raise ImproperlyConfigured(
        "Set STAFF_TOTP_REQUIRED to true or false, or leave it empty: staff then give a code "
        "in production (DEBUG=false) and not in development."
    )
STAFF_TOTP_REQUIRED = (
    _STAFF_TOTP_REQUIRED in {"true", "1", "yes", "on"} if _STAFF_TOTP_REQUIRED else not DEBUG
)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="SfE Portal")
# Wrong codes make the next try wait 1, 2, 4, 8… seconds (per device, across sessions).
OTP_TOTP_THROTTLE_FACTOR = 1
# The admin's list of TOTP devices never shows a device's key or its QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# A session ends after this many minutes without a request, and this many hours after signing
# in however busy (accounts/session_timeout.py); the sign-in page then says which.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
SESSION_MAX_AGE_HOURS = env.int("SESSION_MAX_AGE_HOURS", default=12)
if SESSION_IDLE_TIMEOUT_MINUTES < 1 or SESSION_MAX_AGE_HOURS < 1:
    raise ImproperlyConfigured(
        "Set SESSION_IDLE_TIMEOUT_MINUTES and SESSION_MAX_AGE_HOURS to 1 or more."
    )
SESSION_COOKIE_AGE = SESSION_MAX_AGE_HOURS * 3600
# Model histories (memberships, configuration, rules, ingest keys) are a record, read in the
# admin: never a way to write an old version back past the services that keep Codat in step.
SIMPLE_HISTORY_REVERT_DISABLED = True
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- I18n -------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and storage -----------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic writes here; whitenoise serves it (hashed names, gzip/brotli copies).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default="") or VAR_DIR / "staticfiles")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")


def s3_receipts_storage(
    *, bucket: str, endpoint_url: str | None, region: str | None, expire: int
) -> dict[str, Any]:
    """Receipts in a private S3 bucket (docs/deploy.md has the policy). A push never deletes
    a receipt; removing it in the workspace (only before it was sent) deletes the object."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "default_acl": None,  # objects stay private (bucket owner only); no public ACLs
            "querystring_auth": True,  # previews use signed URLs ...
            "querystring_expire": expire,  # ... that live this many seconds
            "file_overwrite": False,
            # S3 checks the SHA-256 of every upload against what we sent and keeps it with the
            # object; objects are encrypted at rest.
            "object_parameters": {"ChecksumAlgorithm": "SHA256", "ServerSideEncryption": "AES256"},
            "signature_version": "s3v4",
        },
    }


_receipts_storage: dict[str, Any]
if AWS_STORAGE_BUCKET_NAME:
    _receipts_storage = s3_receipts_storage(
        bucket=AWS_STORAGE_BUCKET_NAME,
        endpoint_url=env.str("AWS_S3_ENDPOINT_URL", default=""),
        region=env.str("AWS_S3_REGION_NAME", default=""),
        expire=env.int("AWS_QUERYSTRING_EXPIRE", default=300),
    )
else:
    _receipts_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": "/" + MEDIA_URL},
    }
STORAGES = {
    "default": _receipts_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Largest receipt accepted anywhere (platform limits are stricter and checked per company).
RECEIPT_MAX_BYTES = env.int("RECEIPT_MAX_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# --- Cache and sessions -----------------------------------------------------------------------
# A shared cache (Redis) when CACHE_URL is set: sessions are then read from it and written
# through to the database, sparing every page a session query. Without one, sessions stay in
# the database only: a per-process cache would let a session signed out in one process live
# on in another.
CACHE_URL = env.str("CACHE_URL", default="")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "sfe",
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Error pages and reports never show the Codat key or webhook secret, even in frame variables.
DEFAULT_EXCEPTION_REPORTER_FILTER = "sfe_portal.redaction.SecretScrubbingReporterFilter"
# Active in every environment (tests included), so a violation shows up in the browser tests.
CONTENT_SECURITY_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    # Receipt previews: the middleware adds the bucket's origin when receipts are on S3.
    "img-src": ["'self'", "data:"],
    "object-src": ["'self'"],  # PDF receipts are embedded with <object>
    "frame-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# Where browsers report policy violations (e.g. Sentry's security endpoint): added to the
# policy as `report-uri` and `report-to` only when set.
CSP_REPORT_URI = env.str("CSP_REPORT_URI", default="")
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # The load balancer ends TLS and says so in X-Forwarded-Proto; it must overwrite any value
    # a client sends in that header (docs/deploy.md), or plain HTTP could pass for HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Load balancers probe over plain HTTP inside the network: health answers there too.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Celery -----------------------------------------------------------------------------------
CELERY_DIR = VAR_DIR / "celery"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    # Producer and consumer must agree on one absolute folder, whatever their working directory.
    for _folder in ("queue", "processed", "control"):
        (CELERY_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "control_folder": str(CELERY_DIR / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Kombu's Redis transport, but a worker survives the broker restarting (broker.py).
    CELERY_BROKER_TRANSPORT = "sfe_portal.broker:Transport"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True  # state lives in models, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_DEFAULT_QUEUE", default="portal")
# The Codat sandbox's work (syncs, webhook deliveries) has a queue of its own.
CELERY_TASK_ROUTES = {"sandbox.*": {"queue": "sandbox"}}
# No task may run longer than this: the soft limit lets it stop cleanly (its work resumes
# on the next run), the hard one kills the child.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
if CELERY_BROKER_URL != "filesystem://":
    # Redis hands an unacknowledged task to another worker after this long: it must stay above
    # the longest task (acks_late), or a running task would be started twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": max(3600, 2 * CELERY_TASK_TIME_LIMIT)}
# A worker that loses Redis stops its running tasks: they are redelivered, not finished twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Children are replaced now and then, so no leak grows without bound.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env.int("CELERY_WORKER_MAX_TASKS_PER_CHILD", default=1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every periodic task, in one place.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "worker-heartbeat": {"task": "syncs.heartbeat", "schedule": 60.0},
    "sync-sweeper": {"task": "syncs.sweep", "schedule": 60.0},
    # Master data of every connected company, pulled again once a day (04:15 UTC, off-peak).
    "companies-refresh-all": {
        "task": "companies.refresh_all",
        "schedule": crontab(hour="4", minute="15"),
    },
}
if SANDBOX_ENABLED:
    CELERY_BEAT_SCHEDULE["sandbox-sweep"] = {"task": "sandbox.sweep", "schedule": 30.0}
    # The dashboard shows the last task seen per queue: the sandbox's queue reports too.
    CELERY_BEAT_SCHEDULE["worker-heartbeat-sandbox"] = {
        "task": "syncs.heartbeat",
        "schedule": 60.0,
        "options": {"queue": "sandbox"},
    }

# --- Codat ------------------------------------------------------------------------------------
CODAT_BASE_URL = env.str("CODAT_BASE_URL", default="http://127.0.0.1:8000/codat-sandbox")
if SANDBOX_ENABLED and DEBUG:
    CODAT_API_KEY = env.str("CODAT_API_KEY", default=DEV_CODAT_API_KEY)
    CODAT_WEBHOOK_SECRET = env.str("CODAT_WEBHOOK_SECRET", default=DEV_WEBHOOK_SECRET)
else:
    CODAT_API_KEY = _required("CODAT_API_KEY", "the API key from Codat's portal (Developers).")
    CODAT_WEBHOOK_SECRET = _required(
        "CODAT_WEBHOOK_SECRET", "the whsec_… signing secret of the Codat webhook consumer."
    )
if not DEBUG:
    # Both are published (README, .env.example): with them anyone could call the sandbox as
    # the portal, or sign webhooks the portal would believe.
    for _name, _value, _published in (
        ("CODAT_API_KEY", CODAT_API_KEY, DEV_CODAT_API_KEY),
        ("CODAT_WEBHOOK_SECRET", CODAT_WEBHOOK_SECRET, DEV_WEBHOOK_SECRET),
    ):
        if _value.strip() == _published:
            raise ImproperlyConfigured(
                f"Set the {_name} environment variable to a value of your own: the development "
                "value of .env.example is public and cannot be used with DEBUG=false."
            )
if not CODAT_WEBHOOK_SECRET.startswith("whsec_"):
    raise ImproperlyConfigured(
        "Set CODAT_WEBHOOK_SECRET to the signing secret as Codat shows it, starting with 'whsec_'."
    )
CODAT_TIMEOUT_S = env.float("CODAT_TIMEOUT_S", default=30.0)
# The generation of Codat's expenses API the companies speak (gateway/apis.py lists the known
# ones; the gateway app refuses to start with any other).
CODAT_EXPENSES_API_DEFAULT = env.str("CODAT_EXPENSES_API_DEFAULT", default="v1")
# The day Codat switches Sync for Expenses v1 off (its product-lifecycle post): from then a v1
# company's push is refused with the cut-over as the fix, and a company can no longer be moved
# back to v1. The dashboard counts down to it.
try:
    CODAT_V1_SHUTDOWN_DATE = date.fromisoformat(
        env.str("CODAT_V1_SHUTDOWN_DATE", default="2027-05-01").strip()
    )
except ValueError:
    raise ImproperlyConfigured(
        "Set CODAT_V1_SHUTDOWN_DATE to a date as YYYY-MM-DD (Codat's: 2027-05-01), or leave it "
        "unset."
    ) from None
# Datasets one push task posts before queueing the rest behind other companies' work. They go
# out side by side, one lane per free call slot (three with the defaults), so a turn of 12
# takes about as long as a turn of 4 did one by one; each turn costs a task of its own.
PUSH_BATCHES_PER_TURN = env.int("PUSH_BATCHES_PER_TURN", default=12)
# Threads (each with its own database connection) claiming a push's slices side by side on
# PostgreSQL while its datasets go out: a slice mostly waits on the database.
PUSH_CLAIMERS = env.int("PUSH_CLAIMERS", default=3)
# Threads (each with its own database connection) settling an ended sync's results side by
# side on PostgreSQL, a thousand at a time, while the next page is read.
SYNC_SETTLERS = env.int("SYNC_SETTLERS", default=2)
# Codat calls one company may have in flight at once, across every worker (pushes, polls,
# receipt uploads, corrections); a slot's lease outlives the longest task that holds one.
CODAT_MAX_CALLS_PER_COMPANY = env.int("CODAT_MAX_CALLS_PER_COMPANY", default=4)
CODAT_CALL_SLOT_LEASE_S = env.int("CODAT_CALL_SLOT_LEASE_S", default=1200)
if CODAT_MAX_CALLS_PER_COMPANY < 1:
    raise ImproperlyConfigured("Set CODAT_MAX_CALLS_PER_COMPANY to 1 or more.")

# --- E-mail -----------------------------------------------------------------------------------
# Invitations to join a company are e-mailed (their link is on the settings page too).
# EMAIL_URL as django-environ reads it, e.g. smtp+tls://user:password@smtp.example.com:587;
# without it mail is written to the console (the worker's output).
vars().update(env.email_url_config(env.str("EMAIL_URL", default="") or "consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SfE Portal <no-reply@localhost>")
EMAIL_TIMEOUT = 30

# --- Failure notices (notices/) ---------------------------------------------------------------
# The portal's address as people reach it: the links in notices are made from it. In
# production the first of ALLOWED_HOSTS over https, when it names one host.
_first_host = next(iter(ALLOWED_HOSTS), "")
_host_named = bool(_first_host) and not _first_host.startswith((".", "*"))
PORTAL_BASE_URL = (
    env.str("PORTAL_BASE_URL", default="")
    or ("http://127.0.0.1:8000" if DEBUG else (f"https://{_first_host}" if _host_named else ""))
).rstrip("/")
if not PORTAL_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        "Set PORTAL_BASE_URL to the portal's address as people reach it, e.g. "
        "https://portal.example.com: the links in failure notices are made from it."
    )
# A company's failures within this many seconds of the first go out as one message.
NOTICE_DEBOUNCE_SECONDS = env.int("NOTICE_DEBOUNCE_SECONDS", default=300)
if NOTICE_DEBOUNCE_SECONDS < 0:
    raise ImproperlyConfigured("Set NOTICE_DEBOUNCE_SECONDS to 0 or more seconds.")
# A Slack or Teams incoming webhook that hears of every failure notice (it is a secret: the URL
# alone lets anyone post to the channel).
NOTICE_WEBHOOK_URL = env.str("NOTICE_WEBHOOK_URL", default="")
if NOTICE_WEBHOOK_URL and not NOTICE_WEBHOOK_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(
        "Set NOTICE_WEBHOOK_URL to the incoming webhook's https:// address, or leave it empty."
    )
# The hour (UTC, as beat's schedule) the daily digests go out.
NOTICE_DIGEST_HOUR = env.int("NOTICE_DIGEST_HOUR", default=7)
if not 0 <= NOTICE_DIGEST_HOUR <= 23:
    raise ImproperlyConfigured("Set NOTICE_DIGEST_HOUR to an hour of the day, 0 to 23 (UTC).")
# Dispatches due and not sent (their task lost), senders that died; the day's digests once due.
CELERY_BEAT_SCHEDULE["notices-sweep"] = {"task": "notices.sweep", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["notices-digest"] = {
    "task": "notices.digest",
    "schedule": crontab(hour=str(NOTICE_DIGEST_HOUR), minute="0"),
}

# --- Error tracking ---------------------------------------------------------------------------
# Sentry, only with a DSN (sfe_portal/error_tracking.py scrubs every event of secrets first).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="") or (
    "development" if DEBUG else "production"
)
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="") or git_commit(BASE_DIR)
# Share of requests and tasks whose timings are sent; the health probes never are.
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if not 0.0 <= SENTRY_TRACES_SAMPLE_RATE <= 1.0:
    raise ImproperlyConfigured("Set SENTRY_TRACES_SAMPLE_RATE between 0 and 1.")
# A test run never reports, whatever a developer's .env says.
if SENTRY_DSN and not TESTING:
    error_tracking_init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# JSON lines in production (one object a line, for the log pipeline), readable in development.
LOG_FORMAT = env.str("LOG_FORMAT", default="") or ("readable" if DEBUG else "json")
if LOG_FORMAT not in {"json", "readable"}:
    raise ImproperlyConfigured(
        f"Set LOG_FORMAT to 'json' or 'readable', not {LOG_FORMAT!r}: json for production."
    )
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "sfe_portal.logs.ContextFilter"},
        "redact": {"()": "sfe_portal.logs.RedactFilter"},
        "redact_secrets": {"()": "sfe_portal.redaction.RedactSecretsFilter"},
    },
    "formatters": {
        "json": {"()": "sfe_portal.logs.JsonFormatter"},
        "readable": {"()": "sfe_portal.logs.ReadableFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_secrets", "redact", "context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
