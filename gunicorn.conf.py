"""gunicorn in production (`Procfile.prod`): every figure comes from the environment.

WEB_CONCURRENCY worker processes of GUNICORN_THREADS threads each: requests mostly wait on
PostgreSQL, so threads are cheap concurrency; views never wait on Codat (tasks do).
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Longer than the load balancer's idle timeout (60 s on AWS ALB), so it closes first.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# A worker is replaced after this many requests (with jitter, not all at once).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Only the load balancer may say a request came over HTTPS (X-Forwarded-Proto).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The portal logs each request itself (JSON, with its request id); gunicorn's access log
# is off unless asked for.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Point at a tmpfs (e.g. /dev/shm in containers) so a slow disk cannot get workers killed.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None


def post_worker_init(worker: object) -> None:
    """Once a worker has loaded the app, take what it loaded out of the cyclic collector's sight
    (`gc.freeze`): it lives as long as the worker, and full collections walked all of it
    (as in the Celery worker, `sfe_portal/celery.py`)."""
    import gc

    gc.freeze()
