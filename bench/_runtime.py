"""Django set-up shared by the benchmarks: a throw-away PostgreSQL database, created and dropped
around each run, and the processes (web server, workers) a benchmark needs."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results.json"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sfe_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/3"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/4"


class BenchSetupError(SystemExit):
    """A resource the benchmarks need is missing; the message says how to provide it."""


def _reachable(url: str) -> bool:
    import psycopg

    # Connect to the server's maintenance database: the benchmark database is created later.
    base, _, _ = url.rpartition("/")
    try:
        psycopg.connect(f"{base}/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def configure_environment() -> None:
    """Point Django at PostgreSQL and Redis before it is set up, or stop with the fix."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        url = DEFAULT_DATABASE_URL
        if not _reachable(url):
            raise BenchSetupError(
                "make bench needs PostgreSQL: none answered at 127.0.0.1:5432 (user postgres). "
                "Start one there, or set DATABASE_URL=postgres://user:password@host:port/name "
                "to a server where that user may create databases."
            )
        os.environ["DATABASE_URL"] = url
    elif not url.startswith(("postgres://", "postgresql://")):
        raise BenchSetupError(
            f"DATABASE_URL must be a PostgreSQL URL for the benchmarks, not {url.split(':')[0]}:// "
            "(the figures are only meaningful on the production engine). "
            "Set DATABASE_URL=postgres://user:password@host:port/name."
        )
    elif not _reachable(url):
        raise BenchSetupError(
            "DATABASE_URL does not answer; check host, port and credentials, "
            "or unset it to use postgres://postgres@127.0.0.1:5432/sfe_bench."
        )
    os.environ.setdefault("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    # As production runs: sessions read from the shared Redis cache (docs/deploy.md).
    os.environ.setdefault("CACHE_URL", DEFAULT_CACHE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sfe_portal.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # One key and webhook secret for every process of the run: its production-profile worker
    # (DEBUG off) refuses the published development ones.
    os.environ.setdefault("CODAT_API_KEY", "bench-only-codat-key")
    os.environ.setdefault("CODAT_WEBHOOK_SECRET", "whsec_YmVuY2gtb25seS13ZWJob29rLXNlY3JldA==")


@contextmanager
def benchmark_database() -> Iterator[str]:
    configure_environment()
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.DATABASES["default"].setdefault("TEST", {})
    settings.DATABASES["default"]["TEST"]["NAME"] = f"{settings.DATABASES['default']['NAME']}_run"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield connection.vendor
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def database_url() -> str:
    """The URL of the database the benchmark runs on, for child processes."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def timed_ms(action: Callable[[], object], *, warmup: int, repeat: int) -> list[float]:
    """Wall times in milliseconds of `repeat` runs after `warmup` unmeasured ones."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1", **extra}


def start_process(args: list[str], log: Path, **extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=child_env(**extra), stdout=out, stderr=out
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def record(figures: dict[str, Any]) -> None:
    """Merge figures into bench/results.json, keeping what other benchmarks wrote."""
    current: dict[str, Any] = {}
    if RESULTS.is_file():
        current = json.loads(RESULTS.read_text())
    current.update(figures)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    tmp.replace(RESULTS)
