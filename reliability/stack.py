"""The processes of a run, as production runs them, on loopback only: gunicorn serving the
portal, a second gunicorn serving the Codat sandbox, Celery workers for the `portal` and
`sandbox` queues, a private Redis as the broker and a PostgreSQL database of the run's own."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Production settings: DEBUG off, but the sandbox mounted and plain HTTP on loopback.
SECRET_KEY = "reliability-run-key-only-for-loopback-0123456789abcdef"


@dataclass
class Ports:
    portal: int = 8160
    sandbox: int = 8161
    redis: int = 6391


@dataclass
class Config:
    scenario: str
    database: str
    ports: Ports = field(default_factory=Ports)
    pg_url: str = "postgres://postgres@127.0.0.1:5432"
    codat_timeout_s: float = 30.0
    portal_concurrency: int = 2
    # The generation of Codat's expenses API the run's companies speak, in the portal and in
    # the sandbox alike (`CODAT_EXPENSES_API_DEFAULT`).
    expenses_api: str = "v1"

    @property
    def var_dir(self) -> Path:
        return ROOT / "var" / "reliability" / self.scenario

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.portal}"

    @property
    def codat_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sandbox}/codat-sandbox"

    def env(self) -> dict[str, str]:
        return {
            "DEBUG": "false",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "0",
            "SANDBOX_ENABLED": "true",
            # The run is its own staging demo: the sandbox under DEBUG=false, with a key and
            # webhook secret of its own (production refuses the published development ones).
            "SANDBOX_IN_PRODUCTION": "true",
            "CODAT_API_KEY": "reliability-only-codat-key",
            "CODAT_WEBHOOK_SECRET": "whsec_cmVsaWFiaWxpdHktb25seS13ZWJob29rLXNlY3JldA==",
            "SFE_VAR_DIR": str(self.var_dir),
            "DATABASE_URL": f"{self.pg_url}/{self.database}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.ports.redis}/0",
            "CELERY_DEFAULT_QUEUE": "portal",
            "CODAT_BASE_URL": self.codat_url,
            "CODAT_TIMEOUT_S": str(self.codat_timeout_s),
            "CODAT_EXPENSES_API_DEFAULT": self.expenses_api,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }


def database_recreate(config: Config) -> None:
    """A fresh database for the run, so its figures count only its own rows."""
    import psycopg

    with psycopg.connect(f"{config.pg_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{config.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{config.database}"')


def wait_port(port: int, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Service:
    """One process group of the run (a gunicorn or Celery master and its children)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # A run's log starts empty; a restarted process appends to it.
        with self.log_path.open("ab" if self.starts else "wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill reaches the pool's children too
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group: what a crashed machine or the OOM killer does."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


class PrivateRedis:
    """A redis-server of this run alone (never the shared one), without persistence: a
    restart loses every queued message, the harshest case for the pipeline."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port = port
        self.service = Service(
            name="redis",
            argv=[
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            env={},
            log_path=folder / "redis.log",
        )

    def start(self) -> None:
        if not port_free(self.port):
            raise RuntimeError(f"127.0.0.1:{self.port} is taken: stop whatever listens there")
        self.service.start()
        wait_port(self.port, timeout=20, what="redis-server")

    def restart(self, *, down_s: float = 2.0) -> None:
        self.service.kill()
        time.sleep(down_s)  # the workers see the broker gone and start reconnecting
        self.start()

    def stop(self) -> None:
        self.service.stop()


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def gunicorn(config: Config, *, name: str, port: int, workers: int, threads: int) -> Service:
    return Service(
        name=name,
        argv=[
            str(BIN / "gunicorn"),
            "sfe_portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "120",
        ],
        env=config.env(),
        log_path=config.var_dir / f"{name}.log",
    )


def celery_worker(config: Config, *, queue: str, concurrency: int) -> Service:
    return Service(
        name=f"worker-{queue}",
        argv=_python(
            "-m",
            "celery",
            "-A",
            "sfe_portal",
            "worker",
            "--queues",
            queue,
            "--concurrency",
            str(concurrency),
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{queue}-{config.scenario}@%h",
        ),
        env=config.env(),
        log_path=config.var_dir / f"worker-{queue}.log",
    )


class Stack:
    """Everything a run needs, started in order and always stopped, even on failure."""

    def __init__(self, config: Config, *, portal_web: bool) -> None:
        self.config = config
        config.var_dir.mkdir(parents=True, exist_ok=True)
        self.redis = PrivateRedis(config.ports.redis, config.var_dir)
        self.sandbox_web = gunicorn(
            config, name="web-sandbox", port=config.ports.sandbox, workers=2, threads=8
        )
        self.portal_web = (
            gunicorn(config, name="web-portal", port=config.ports.portal, workers=2, threads=4)
            if portal_web
            else None
        )
        self.portal_worker = celery_worker(
            config, queue="portal", concurrency=config.portal_concurrency
        )
        self.sandbox_worker = celery_worker(config, queue="sandbox", concurrency=1)

    def prepare(self) -> None:
        """A fresh database, migrated, and the static files the production pages link to."""
        for port in (self.config.ports.portal, self.config.ports.sandbox):
            if not port_free(port):
                raise RuntimeError(f"127.0.0.1:{port} is taken: stop whatever listens there")
        database_recreate(self.config)
        env = {**os.environ, **self.config.env()}
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v", "0"]):
            subprocess.run(
                _python("manage.py", *command), cwd=ROOT, env=env, check=True, capture_output=True
            )

    def start(self) -> None:
        self.redis.start()
        self.sandbox_web.start()
        if self.portal_web:
            self.portal_web.start()
        self.portal_worker.start()
        self.sandbox_worker.start()
        wait_port(self.config.ports.sandbox, timeout=60, what="the sandbox's gunicorn")
        if self.portal_web:
            wait_port(self.config.ports.portal, timeout=60, what="the portal's gunicorn")

    def services(self) -> list[Service]:
        return [
            s
            for s in (self.portal_web, self.sandbox_web, self.portal_worker, self.sandbox_worker)
            if s is not None
        ]

    def stop(self) -> None:
        for service in self.services():
            service.stop()
        self.redis.stop()
