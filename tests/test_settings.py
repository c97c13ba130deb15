"""Settings come from the environment: embedded defaults with nothing set, real services when
their variables are set, and a production mode that refuses to start without what it needs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
    "'name': str(settings.DATABASES['default']['NAME']), "
    "'options': settings.DATABASES['default'].get('OPTIONS', {}), "
    "'broker': settings.CELERY_BROKER_URL, "
    "'broker_options': settings.CELERY_BROKER_TRANSPORT_OPTIONS, "
    "'storage': settings.STORAGES['default']['BACKEND'], "
    "'cache': settings.CACHES['default']['BACKEND'], 'sessions': settings.SESSION_ENGINE, "
    "'sandbox': settings.SANDBOX_ENABLED, 'debug': settings.DEBUG, "
    "'totp': settings.STAFF_TOTP_REQUIRED, 'proxies': settings.TRUSTED_PROXY_COUNT}))"
)
PROD = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "portal.example.com",
    "CODAT_API_KEY": "live-key",
    "CODAT_WEBHOOK_SECRET": "whsec_c2VjcmV0",
}
_CLEARED = [
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CODAT_API_KEY",
    "CODAT_WEBHOOK_SECRET",
    "CODAT_EXPENSES_API_DEFAULT",
    "CODAT_V1_SHUTDOWN_DATE",
    "SANDBOX_ENABLED",
    "SANDBOX_IN_PRODUCTION",
    "AWS_STORAGE_BUCKET_NAME",
    "CACHE_URL",
    "DATABASE_RANDOM_PAGE_COST",
    "SESSION_IDLE_TIMEOUT_MINUTES",
    "SESSION_MAX_AGE_HOURS",
    "STAFF_TOTP_REQUIRED",
    "TRUSTED_PROXY_COUNT",
    "SIGNIN_USERNAME_FAILURES",
    "SIGNIN_IP_FAILURES",
    "SIGNIN_LOCKOUT_MINUTES",
]


def _load(tmp_path, **env_vars):
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(DJANGO_SETTINGS_MODULE="sfe_portal.settings", SFE_VAR_DIR=str(tmp_path), **env_vars)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )


def _settings(tmp_path, **env_vars):
    result = _load(tmp_path, **env_vars)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_set_gives_the_embedded_defaults(tmp_path):
    found = _settings(tmp_path)

    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in found["options"]["init_command"]
    assert found["options"]["timeout"] >= 5
    assert found["broker"] == "filesystem://"
    queue = found["broker_options"]["data_folder_in"]
    assert queue == found["broker_options"]["data_folder_out"] == str(tmp_path / "celery/queue")
    assert Path(queue).is_absolute()
    assert Path(queue).is_dir()
    assert found["storage"] == "django.core.files.storage.FileSystemStorage"
    assert found["sandbox"] is True
    assert found["debug"] is True
    # No shared cache: sessions stay in the database, never in a per-process cache.
    assert found["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert found["sessions"] == "django.contrib.sessions.backends.db"


def test_service_variables_switch_to_postgres_and_redis(tmp_path):
    found = _settings(
        tmp_path,
        DATABASE_URL="postgres://portal@db.internal:5432/sfe",
        CELERY_BROKER_URL="redis://cache.internal:6379/0",
        AWS_STORAGE_BUCKET_NAME="receipts",
        CACHE_URL="redis://cache.internal:6379/1",
    )

    assert found["engine"] == "django.db.backends.postgresql"
    assert found["name"] == "sfe"
    # Random reads cost what they do on SSD or in memory, not on a spinning disk.
    assert found["options"]["options"] == "-c random_page_cost=1.1"
    assert found["broker"] == "redis://cache.internal:6379/0"
    assert found["broker_options"]["visibility_timeout"] >= 3600
    assert found["storage"] == "storages.backends.s3.S3Storage"
    assert found["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert found["sessions"] == "django.contrib.sessions.backends.cached_db"


def test_production_with_everything_set_starts(tmp_path):
    found = _settings(tmp_path, **PROD)

    assert found["debug"] is False
    assert found["sandbox"] is False


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ALLOWED_HOSTS", "CODAT_API_KEY", "CODAT_WEBHOOK_SECRET"]
)
def test_production_refuses_to_start_naming_the_missing_variable(tmp_path, missing):
    env = {k: v for k, v in PROD.items() if k != missing}

    result = _load(tmp_path, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Set the {missing} environment variable" in result.stderr


def test_production_refuses_the_development_secret_key(tmp_path):
    result = _load(
        tmp_path, **{**PROD, "SECRET_KEY": "dev-only-insecure-secret-key-never-use-in-production"}
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_webhook_secret_must_be_a_svix_secret(tmp_path):
    result = _load(tmp_path, CODAT_WEBHOOK_SECRET="plain-secret")

    assert result.returncode != 0
    assert "whsec_" in result.stderr


def test_a_company_needs_at_least_one_codat_call_slot(tmp_path):
    result = _load(tmp_path, CODAT_MAX_CALLS_PER_COMPANY="0")

    assert result.returncode != 0
    assert "CODAT_MAX_CALLS_PER_COMPANY" in result.stderr


def test_an_unknown_expenses_api_generation_is_refused_at_start_naming_the_known_ones(tmp_path):
    result = _load(tmp_path, CODAT_EXPENSES_API_DEFAULT="v9")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CODAT_EXPENSES_API_DEFAULT is 'v9': set it to one of expenses, v1." in result.stderr


def test_a_v1_shutdown_date_that_is_not_a_date_is_refused_at_start(tmp_path):
    result = _load(tmp_path, CODAT_V1_SHUTDOWN_DATE="1 May 2027")

    assert result.returncode != 0
    assert "Set CODAT_V1_SHUTDOWN_DATE to a date as YYYY-MM-DD" in result.stderr


def test_the_v1_shutdown_date_is_codats_unless_set(tmp_path):
    probe = "import django; from django.conf import settings; django.setup(); "
    probe += "print(settings.CODAT_V1_SHUTDOWN_DATE.isoformat())"
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(DJANGO_SETTINGS_MODULE="sfe_portal.settings", SFE_VAR_DIR=str(tmp_path))
    found = [
        subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for extra in ({}, {"CODAT_V1_SHUTDOWN_DATE": "2027-03-31"})
    ]

    assert found == ["2027-05-01", "2027-03-31"]


def test_an_empty_random_page_cost_leaves_the_servers_own(tmp_path):
    found = _settings(
        tmp_path,
        DATABASE_URL="postgres://portal@db.internal:5432/sfe",
        DATABASE_RANDOM_PAGE_COST="",
    )

    assert "random_page_cost" not in found["options"].get("options", "")


def test_production_refuses_the_sandbox(tmp_path):
    result = _load(tmp_path, **PROD, SANDBOX_ENABLED="true")

    assert result.returncode != 0
    assert "SANDBOX_ENABLED=false" in result.stderr
    assert "SANDBOX_IN_PRODUCTION=true" in result.stderr


def test_a_staging_demo_runs_the_sandbox_when_asked_by_name(tmp_path):
    found = _settings(tmp_path, **PROD, SANDBOX_ENABLED="true", SANDBOX_IN_PRODUCTION="true")

    assert found["debug"] is False
    assert found["sandbox"] is True


def test_a_staging_demo_still_needs_a_key_and_secret_of_its_own(tmp_path):
    env = {k: v for k, v in PROD.items() if k not in {"CODAT_API_KEY", "CODAT_WEBHOOK_SECRET"}}

    result = _load(tmp_path, **env, SANDBOX_ENABLED="true", SANDBOX_IN_PRODUCTION="true")

    assert result.returncode != 0
    assert "Set the CODAT_API_KEY environment variable" in result.stderr


@pytest.mark.parametrize(
    ("name", "published"),
    [
        ("CODAT_API_KEY", "sandbox-api-key"),
        ("CODAT_WEBHOOK_SECRET", "whsec_c2ZlLXBvcnRhbC1kZXYtd2ViaG9vay1zZWNyZXQ="),
    ],
)
@pytest.mark.parametrize(
    "sandbox", [{}, {"SANDBOX_ENABLED": "true", "SANDBOX_IN_PRODUCTION": "true"}]
)
def test_production_refuses_the_published_development_key_and_secret(
    tmp_path, name, published, sandbox
):
    result = _load(tmp_path, **{**PROD, **sandbox, name: published})

    assert result.returncode != 0
    assert f"Set the {name} environment variable to a value of your own" in result.stderr


def test_the_development_values_of_env_example_are_the_published_ones():
    from sfe_portal import settings

    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )

    assert example["CODAT_API_KEY"] == settings.DEV_CODAT_API_KEY
    assert example["CODAT_WEBHOOK_SECRET"] == settings.DEV_WEBHOOK_SECRET


@pytest.mark.parametrize("name", ["SESSION_IDLE_TIMEOUT_MINUTES", "SESSION_MAX_AGE_HOURS"])
def test_session_timeouts_must_be_at_least_one(tmp_path, name):
    result = _load(tmp_path, **{name: "0"})

    assert result.returncode != 0
    assert name in result.stderr


def test_staff_give_a_code_in_production_and_not_in_development_unless_told(tmp_path):
    assert _settings(tmp_path)["totp"] is False
    assert _settings(tmp_path, STAFF_TOTP_REQUIRED="")["totp"] is False
    assert _settings(tmp_path, STAFF_TOTP_REQUIRED="true")["totp"] is True
    assert _settings(tmp_path, **PROD)["totp"] is True
    assert _settings(tmp_path, **PROD, STAFF_TOTP_REQUIRED="")["totp"] is True
    assert _settings(tmp_path, **PROD, STAFF_TOTP_REQUIRED="false")["totp"] is False


def test_a_staff_totp_setting_that_is_not_a_yes_or_no_is_refused(tmp_path):
    result = _load(tmp_path, STAFF_TOTP_REQUIRED="sometimes")

    assert result.returncode != 0
    assert "Set STAFF_TOTP_REQUIRED to true or false" in result.stderr


def test_no_proxy_is_trusted_unless_told(tmp_path):
    assert _settings(tmp_path)["proxies"] == 0
    assert _settings(tmp_path, TRUSTED_PROXY_COUNT="1")["proxies"] == 1
    refused = _load(tmp_path, TRUSTED_PROXY_COUNT="-1")
    assert refused.returncode != 0
    assert "TRUSTED_PROXY_COUNT" in refused.stderr


@pytest.mark.parametrize(
    "name", ["SIGNIN_USERNAME_FAILURES", "SIGNIN_IP_FAILURES", "SIGNIN_LOCKOUT_MINUTES"]
)
def test_sign_in_limits_must_be_at_least_one(tmp_path, name):
    result = _load(tmp_path, **{name: "0"})

    assert result.returncode != 0
    assert name in result.stderr
