"""The notices' settings: the base address of the links found (development, a production host)
or asked for by name, a webhook that is an address, a digest hour of the day."""

import json
import os
import subprocess
import sys

import pytest

from tests.test_settings import PROD, ROOT

PROBE = (
    "import django, json; from django.conf import settings; django.setup(); "
    "print(json.dumps([settings.PORTAL_BASE_URL, settings.NOTICE_DEBOUNCE_SECONDS, "
    "settings.CELERY_BEAT_SCHEDULE['notices-digest']['schedule'].hour == {9}]))"
)
NOTICE_VARIABLES = ["PORTAL_BASE_URL", "NOTICE_WEBHOOK_URL", "NOTICE_DIGEST_HOUR", "DEBUG"]


def _start(tmp_path, **env_vars):
    env = {k: v for k, v in os.environ.items() if k not in [*NOTICE_VARIABLES, *PROD]}
    env.update(DJANGO_SETTINGS_MODULE="sfe_portal.settings", SFE_VAR_DIR=str(tmp_path), **env_vars)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_development_links_point_at_make_runs_server(tmp_path):
    result = _start(tmp_path, NOTICE_DIGEST_HOUR="9")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["http://127.0.0.1:8000", 300, True]


def test_production_links_use_the_first_allowed_host_over_https(tmp_path):
    result = _start(tmp_path, **{**PROD, "ALLOWED_HOSTS": "portal.example.com,10.0.0.5"})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0] == "https://portal.example.com"


def test_a_base_address_set_wins_without_its_trailing_slash(tmp_path):
    result = _start(tmp_path, **PROD, PORTAL_BASE_URL="https://sfe.example.com/")

    assert json.loads(result.stdout)[0] == "https://sfe.example.com"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({**PROD, "ALLOWED_HOSTS": ".example.com"}, "PORTAL_BASE_URL"),
        ({"PORTAL_BASE_URL": "portal.example.com"}, "PORTAL_BASE_URL"),
        ({"NOTICE_WEBHOOK_URL": "hooks.slack.com/services/x"}, "NOTICE_WEBHOOK_URL"),
        ({"NOTICE_DIGEST_HOUR": "24"}, "NOTICE_DIGEST_HOUR"),
        ({"NOTICE_DEBOUNCE_SECONDS": "-1"}, "NOTICE_DEBOUNCE_SECONDS"),
    ],
)
def test_a_value_that_cannot_work_is_refused_by_name(tmp_path, env, named):
    result = _start(tmp_path, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Set {named}" in result.stderr
