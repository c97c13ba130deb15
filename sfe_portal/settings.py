"""Settings, read from the environment only (see `.env.example` for every variable).

With nothing set, the project runs on embedded defaults that need no server: SQLite under
`var/`, Celery's `filesystem://` transport under `var/celery/`, receipts under `var/media/` and
the Codat sandbox mounted at `/codat-sandbox/`. Production (`DEBUG=false`) refuses to start
without the variables it cannot guess, and says which one is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

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
    "companies",
    "expenses",
    "syncs",
]

SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a signed-in user unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
SQLITE_PATH = Path(env.str("SQLITE_PATH", default=str(VAR_DIR / "db.sqlite3")))
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
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
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
_receipts_storage: dict[str, Any]
if AWS_STORAGE_BUCKET_NAME:
    _receipts_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "default_acl": None,  # objects stay private; previews use signed URLs
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
            "file_overwrite": False,
        },
    }
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

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
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
else:
    # Above the longest task, so Redis never hands a running task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
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
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
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

# --- Codat ------------------------------------------------------------------------------------
CODAT_BASE_URL = env.str("CODAT_BASE_URL", default="http://127.0.0.1:8000/codat-sandbox")
if SANDBOX_ENABLED:
    CODAT_API_KEY = env.str("CODAT_API_KEY", default=DEV_CODAT_API_KEY)
    CODAT_WEBHOOK_SECRET = env.str("CODAT_WEBHOOK_SECRET", default=DEV_WEBHOOK_SECRET)
else:
    CODAT_API_KEY = _required("CODAT_API_KEY", "the API key from Codat's portal (Developers).")
    CODAT_WEBHOOK_SECRET = _required(
        "CODAT_WEBHOOK_SECRET", "the whsec_… signing secret of the Codat webhook consumer."
    )
if not CODAT_WEBHOOK_SECRET.startswith("whsec_"):
    raise ImproperlyConfigured(
        "Set CODAT_WEBHOOK_SECRET to the signing secret as Codat shows it, starting with 'whsec_'."
    )
CODAT_TIMEOUT_S = env.float("CODAT_TIMEOUT_S", default=30.0)
# Datasets one push task posts before queueing the rest behind other companies' work.
PUSH_BATCHES_PER_TURN = env.int("PUSH_BATCHES_PER_TURN", default=4)

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
