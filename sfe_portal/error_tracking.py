"""Error tracking with Sentry, on only when `SENTRY_DSN` is set (`make run` needs nothing).

Web requests (Django) and tasks (Celery) report their exceptions and, at
`SENTRY_TRACES_SAMPLE_RATE`, their timings; the health probes are never traced. Nothing leaves
unscrubbed: the SDK sends no personal data (its default) and no frame variables, and
`scrub_event` passes every event and transaction through the redaction the exchange log uses
(`gateway/redaction.py`: the Codat key and webhook secret in every form they travel in, and
anything named or shaped like a secret: Authorization values and ingest keys), after blanking
whatever sits under a secret-looking name (headers, cookies, form fields, extra, breadcrumb
data, contexts).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REDACTED = "[redacted]"
# Keys whose values go whole: the Cookie and Authorization headers, the session and CSRF
# cookies, the CSRF form field and header, and anything named like a key, secret or password.
SECRET_NAME = re.compile(
    r"(?i)authorization|cookie|csrf|session|passw|secret|token|api[-_]?key|apikey|signature"
)
# Never traced: a load balancer probes them every few seconds.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz"})


def git_commit(base_dir: Path) -> str | None:
    """The checked-out commit, read from `.git` without running git; None when unknown."""
    git = base_dir / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head.removeprefix("ref: ")
        common = git / "commondir"
        roots = [git, (git / common.read_text().strip()).resolve()] if common.is_file() else [git]
        for root in roots:
            if (root / ref).is_file():
                return (root / ref).read_text().strip()
            packed = root / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split(" ", 1)[0]
    except (OSError, IndexError):
        return None
    return None


def _scrub(value: Any) -> Any:
    from gateway.redaction import redact

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and SECRET_NAME.search(key) and value[key]
            else _scrub(value[key])
            for key in value
        }
    if isinstance(value, list | tuple):
        # Header lists come as [name, value] pairs.
        if (
            len(value) == 2
            and isinstance(value[0], str)
            and SECRET_NAME.search(value[0])
            and value[1]
        ):
            return [value[0], REDACTED]
        return [_scrub(item) for item in value]
    return value


def scrub_event(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """The event with every secret taken out (the `before_send` hooks)."""
    return _scrub(event)


def traces_sampler_for(rate: float) -> Any:
    def traces_sampler(context: dict[str, Any]) -> float:
        environ = context.get("wsgi_environ") or {}
        path = environ.get("PATH_INFO") or (context.get("asgi_scope") or {}).get("path")
        if path is not None and path.rstrip("/") in UNTRACED_PATHS:
            return 0.0
        parent = context.get("parent_sampled")
        return float(parent) if parent is not None else rate

    return traces_sampler


def error_tracking_init(
    *, dsn: str, environment: str, release: str | None, traces_sample_rate: float
) -> None:
    """Start reporting to `dsn` from this process (web, worker or beat)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # Left unset, send_default_pii (deprecated for data_collection) is off: no cookies, no
        # user's address, sensitive headers filtered. Frame variables stay home too.
        include_local_variables=False,
        before_send=scrub_event,  # type: ignore[arg-type]
        before_send_transaction=scrub_event,  # type: ignore[arg-type]
        traces_sampler=traces_sampler_for(traces_sample_rate),
    )
