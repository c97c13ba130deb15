"""The production profile as `Procfile.prod` runs it: DEBUG off, static files collected and
served by whitenoise from gunicorn, every security header, and the health endpoints a load
balancer probes, including readiness failing by name when the broker is down."""

import json
import re
import subprocess
import sys

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.factories import UserFactory
from tests.integration.conftest import ROOT
from tests.integration.gunicorn_server import free_port, gunicorn, process_env

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "prod-profile-test-" + "k3Jx9-vQ2mLr7TzW5bNc8HdYf4Ge6Ap1"
HTTPS = {"X-Forwarded-Proto": "https"}  # what the load balancer adds after ending TLS
# Production refuses the published development key.
CODAT_KEY = "prod-profile-test-codat-key"


def _prod_env(static_root, codat_url, **extra):
    return {
        "DEBUG": "false",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SANDBOX_ENABLED": "false",
        "CODAT_BASE_URL": codat_url,
        "CODAT_API_KEY": CODAT_KEY,  # the key this test's sandbox takes (see prod_env)
        "CODAT_WEBHOOK_SECRET": "whsec_cHJvZC1wcm9maWxlLXRlc3Qtc2VjcmV0",
        "STATIC_ROOT": str(static_root),
        "LOG_FORMAT": "json",
        **extra,
    }


@pytest.fixture
def prod_env(live_server, tmp_path, settings):
    """Production settings; Codat is played by this test's sandbox (the portal's own is off)."""
    settings.CODAT_API_KEY = CODAT_KEY
    env = _prod_env(tmp_path / "static", live_server.url + "/codat-sandbox")
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr
    return env


def test_check_deploy_is_clean_under_production_settings(prod_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=process_env(prod_env),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_gunicorn_serves_hashed_compressed_static_files_and_every_security_header(
    prod_env, tmp_path
):
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    hashed_css = manifest["css/app.css"]
    assert re.fullmatch(r"css/app\.[0-9a-f]{12}\.css", hashed_css)
    user = UserFactory(username="ops")
    user.password = PBKDF2PasswordHasher().encode("a long passphrase", "prodprofilesalt")
    user.save()

    with gunicorn(prod_env, tmp_path / "web.log") as web:
        # Static: hashed name, compressed copy, cached for ever.
        static = requests.get(
            f"{web.url}/static/{hashed_css}",
            headers={**HTTPS, "Accept-Encoding": "gzip"},
            timeout=10,
        )
        assert static.status_code == 200, web.log()
        assert static.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in static.headers["Vary"]
        assert "max-age=315360000" in static.headers["Cache-Control"]
        assert "immutable" in static.headers["Cache-Control"]
        assert ".htmx-indicator" in static.text

        # Plain HTTP is sent to HTTPS ...
        plain = requests.get(f"{web.url}/accounts/login/", allow_redirects=False, timeout=10)
        assert plain.status_code == 301
        assert plain.headers["Location"].startswith("https://")

        # ... and over HTTPS (behind the load balancer) the page carries every header.
        session = requests.Session()
        login = session.get(f"{web.url}/accounts/login/", headers=HTTPS, timeout=10)
        assert login.status_code == 200, web.log()
        headers = login.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["X-Frame-Options"] == "DENY"
        assert re.search(r"[0-9a-f]{32}", headers["X-Request-ID"])
        assert "Secure" in headers["Set-Cookie"]
        assert re.search(rf'src="/static/{re.escape(manifest["js/app.js"])}"', login.text)
        assert re.search(r"<script>|\son[a-z]+=", login.text) is None

        token = session.cookies["csrftoken"]
        # The cookie is Secure, so a client on plain HTTP keeps it to itself: we pass it on
        # as the load balancer would after ending TLS.
        signed_in = requests.post(
            f"{web.url}/accounts/login/",
            data={"username": "ops", "password": "a long passphrase", "csrfmiddlewaretoken": token},
            headers={
                **HTTPS,
                "Cookie": f"csrftoken={token}",
                "Referer": f"https://{web.url.removeprefix('http://')}/accounts/login/",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302, signed_in.text[:2000]
        session_cookie = next(
            c for c in signed_in.raw.headers.getlist("Set-Cookie") if "sessionid" in c
        )
        assert "Secure" in session_cookie
        assert "HttpOnly" in session_cookie

        # Health: the process answers over plain HTTP (probes are not redirected) ...
        health = requests.get(f"{web.url}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        # ... and readiness checks each dependency, with its latency.
        ready = requests.get(f"{web.url}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert set(checks) == {"database", "broker", "storage", "codat"}
        assert all(check["ok"] and check["ms"] >= 0 for check in checks.values())
        assert ready.headers["Cache-Control"].startswith("max-age=0")


def test_readyz_fails_naming_the_broker_when_it_is_down(prod_env, tmp_path):
    closed = free_port()  # nothing listens here
    env = {**prod_env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{closed}/0"}

    with gunicorn(env, tmp_path / "web.log") as web:
        ready = requests.get(f"{web.url}/readyz", timeout=30)
        health = requests.get(f"{web.url}/healthz", timeout=10)

    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "failing"
    [reason] = body["reasons"]
    assert reason.startswith("broker: cannot reach the broker at redis://127.0.0.1:")
    assert str(closed) in reason
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert health.status_code == 200  # the process itself is fine: do not kill it


def test_procfile_prod_runs_what_this_test_booted():
    processes = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile.prod").read_text().splitlines() if line
    )

    assert set(processes) == {"web", "worker", "beat"}
    assert processes["web"].startswith("python manage.py collectstatic --noinput && ")
    assert "gunicorn sfe_portal.wsgi --config gunicorn.conf.py" in processes["web"]
    assert '--queues "${CELERY_WORKER_QUEUES:-portal}"' in processes["worker"]
    assert "celery -A sfe_portal beat" in processes["beat"]
