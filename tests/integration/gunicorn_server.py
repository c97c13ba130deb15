"""gunicorn started the way `Procfile.prod` starts it, on a free loopback port, on this test's
database; its log goes to a file the test can read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT, _database_env

GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class WebProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def process_env(extra: dict[str, str]) -> dict[str, str]:
    # The browser tests allow sync ORM calls in Playwright's event loop for their own process;
    # a production process must not inherit that.
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {
        **inherited,
        **_database_env(),
        "PYTHONUNBUFFERED": "1",
        "SFE_TESTING": "false",
        **extra,
    }


@contextmanager
def gunicorn(env: dict[str, str], log_path: Path) -> Iterator[WebProcess]:
    port = free_port()
    full_env = process_env(
        {
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "2",
            **env,
        }
    )
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(GUNICORN), "sfe_portal.wsgi", "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    web = WebProcess(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        # A shared, busy machine can take a while to boot Django in the worker.
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(web.url + "/healthz", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{web.log()}")
                time.sleep(0.2)
        yield web
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
