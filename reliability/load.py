"""The load run: signed-in users browse and code in the queue (filters, paging, inline coding
with CSRF, approval) on the portal served by gunicorn while a 10,000-expense push runs on the
workers. It reports requests served, 5xx and p50/p95 per endpoint, then checks that the push
lost and duplicated nothing."""

from __future__ import annotations

import contextlib
import html
import random
import re
import statistics
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from reliability.runs import Sweeper, codat_call_figures, django_for, wait_until
from reliability.stack import Config, Stack

PASSWORD = "load-run-password-7c1f"
ROW_ID = re.compile(r"/expenses/([0-9a-f-]{36})/code/")
NEXT_PAGE = re.compile(r'<a href="\?([^"]*)"[^>]*data-key-next-page')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SEARCHES = ["Merchant 1", "Merchant 42", "Cardholder 7", "Merchant 9"]


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    errors: list[str] = field(default_factory=list)
    total: int = 0

    def record(self, endpoint: str, seconds: float, status: int) -> None:
        with self.lock:
            self.timings[endpoint].append(seconds)
            self.statuses[endpoint][status] += 1
            self.total += 1

    def server_errors(self) -> int:
        return sum(n for by in self.statuses.values() for s, n in by.items() if s >= 500)

    def table(self) -> list[str]:
        out = [
            f"  {'endpoint':<22}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  statuses"
        ]
        for endpoint in sorted(self.timings):
            times = sorted(self.timings[endpoint])
            p50 = statistics.median(times) * 1000
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))] * 1000
            codes = ", ".join(f"{s}×{n}" for s, n in sorted(self.statuses[endpoint].items()))
            out.append(
                f"  {endpoint:<22}{len(times):>9}{p50:>9.0f}{p95:>9.0f}{times[-1] * 1000:>9.0f}"
                f"  {codes}"
            )
        return out


@dataclass
class LoadOptions:
    expenses: int = 10_000
    users: int = 50
    duration_s: float = 300.0
    max_requests: int = 100_000
    timeout_s: float = 3600.0
    queue_expenses: int = 5_000


@dataclass
class Target:
    base: str
    workspace_id: int
    push_id: int
    account_pk: int
    tax_rate_pk: int


class User:
    """One finance person: signs in, then browses and codes until the run ends."""

    def __init__(self, name: str, target: Target, stats: Stats, rng: random.Random) -> None:
        self.name, self.target, self.stats, self.rng = name, target, stats, rng
        self.session = requests.Session()

    def call(self, endpoint: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self.session.request(
                method, self.target.base + path, timeout=60, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            self.stats.record(endpoint, time.perf_counter() - started, 599)
            with self.stats.lock:
                self.stats.errors.append(f"{endpoint}: {exc.__class__.__name__}")
            raise
        self.stats.record(endpoint, time.perf_counter() - started, response.status_code)
        # Production marks its cookies Secure; TLS would end at the proxy, and this client
        # speaks plain HTTP on loopback, so it keeps sending them back.
        for cookie in self.session.cookies:
            cookie.secure = False
        return response

    def sign_in(self) -> None:
        page = self.call("sign-in page", "GET", "/accounts/login/")
        token = CSRF_FIELD.search(page.text)
        if token is None:
            raise RuntimeError("the sign-in page has no CSRF token")
        answer = self.call(
            "sign in",
            "POST",
            "/accounts/login/",
            data={"username": self.name, "password": PASSWORD, "csrfmiddlewaretoken": token[1]},
            headers={"Referer": self.target.base + "/accounts/login/"},
        )
        if answer.status_code != 302:
            raise RuntimeError(f"{self.name} could not sign in ({answer.status_code})")

    def htmx_post(self, endpoint: str, path: str, data: dict[str, str]) -> requests.Response:
        return self.call(
            endpoint,
            "POST",
            path,
            data=data,
            headers={
                "HX-Request": "true",
                "X-CSRFToken": self.session.cookies.get("csrftoken", ""),
            },
        )

    def turn(self) -> None:
        """One visit: the to-do tab (sometimes filtered, sometimes a later page), one row coded
        and approved, and a look at the pushing company."""
        t, rng = self.target, self.rng
        queue = f"/companies/{t.workspace_id}/expenses/"
        query = {"tab": "todo", "sort": rng.choice(["newest", "oldest", "largest"])}
        if rng.random() < 0.3:
            query["q"] = rng.choice(SEARCHES)
        page = self.call("queue filtered" if "q" in query else "queue", "GET", queue, params=query)
        if rng.random() < 0.3:
            following = NEXT_PAGE.search(page.text)
            if following:
                page = self.call(
                    "queue next page", "GET", queue + "?" + html.unescape(following[1])
                )
        rows = ROW_ID.findall(page.text)
        if rows:
            expense = rng.choice(rows)
            self.htmx_post(
                "code (inline)",
                f"{queue}{expense}/code/",
                {"account": str(t.account_pk), "tax_rate": str(t.tax_rate_pk)},
            )
            self.htmx_post("approve", f"{queue}{expense}/approve/", {})
            if rng.random() < 0.2:
                self.call("expense page", "GET", f"{queue}{expense}/")
        pushing = f"/companies/{t.push_id}/expenses/"
        if rng.random() < 0.5:
            self.call(
                "pushing co. queue",
                "GET",
                pushing,
                params={"tab": rng.choice(["insync", "synced"])},
            )
        else:
            self.call("push progress", "GET", f"/companies/{t.push_id}/push/")


def _browse(user: User, until: float, budget: threading.Semaphore) -> None:
    user.sign_in()
    while time.monotonic() < until and budget.acquire(blocking=False):
        with contextlib.suppress(requests.RequestException):
            user.turn()  # a failed request is counted; the user carries on, as a person would
        time.sleep(user.rng.uniform(0.1, 0.5))  # a person's pause between clicks


def run(options: LoadOptions) -> bool:
    config = Config(scenario="load", database="sfe_soak_load")
    stack = Stack(config, portal_web=True)
    stack.prepare()
    django_for(config)
    stack.start()
    try:
        return _load(stack, options)
    finally:
        stack.stop()
        print(f"logs: {config.var_dir}")


def _load(stack: Stack, options: LoadOptions) -> bool:
    from companies.platforms import Platform
    from expenses.models import ExpenseStatus
    from reliability.audit import company_audit, company_unsettled
    from reliability.seed import (
        company_linked,
        expenses_bulk,
        payment_coding,
        sandbox_control,
        users_bulk,
    )
    from syncs.tasks import push_company

    config = stack.config
    sandbox_control(
        "PUT",
        "settings",
        {
            "sync_delay_ms": 0,
            "rate_limit_per_minute": 100_000,
            "webhook_url": f"{config.portal_url}/webhooks/codat/",
        },
    )
    pushing = company_linked(name="Load Push Ltd", platform=Platform.XERO)
    workspace = company_linked(name="Load Queue Ltd", platform=Platform.XERO)
    expenses_bulk(company=pushing, count=options.expenses, locked_every=100, prefix="push")
    expenses_bulk(
        company=workspace,
        count=options.queue_expenses,
        status=ExpenseStatus.UNCATEGORIZED,
        prefix="queue",
    )
    names = users_bulk(count=options.users, companies=[pushing, workspace], password=PASSWORD)
    account, rate = payment_coding(workspace)
    target = Target(config.portal_url, workspace.pk, pushing.pk, account.pk, rate.pk)
    print(
        f"seeded {options.expenses} approved + {options.queue_expenses} to code, "
        f"{options.users} users",
        flush=True,
    )

    stats = Stats()
    sweeper = Sweeper(every_s=30, stale_poll_s=120, stale_initiating_s=900)  # production's
    started = time.monotonic()
    push_company.delay(pushing.pk)
    until = started + options.duration_s
    budget = threading.Semaphore(options.max_requests // 5)  # a turn is up to 5 requests
    with ThreadPoolExecutor(max_workers=options.users) as pool:
        futures = [
            pool.submit(_browse, User(name, target, stats, random.Random(i)), until, budget)
            for i, name in enumerate(names)
        ]
        while any(not f.done() for f in futures):
            sweeper.tick(time.monotonic())
            time.sleep(1)
        for future in futures:
            future.result()  # a user that could not even sign in fails the run
    browsing = time.monotonic() - started
    wait_until(
        lambda: company_unsettled(company=pushing) == 0,
        timeout_s=options.timeout_s,
        what="the push to settle",
        tick=lambda: sweeper.tick(time.monotonic()),
    )
    push_s = time.monotonic() - started
    audit = company_audit(company=pushing)
    served_5xx = stats.server_errors()
    print(
        f"\nload: {options.users} users for {browsing:.0f}s while {options.expenses} "
        f"expenses pushed (settled after {push_s:.0f}s)"
    )
    print(
        f"  requests served: {stats.total} ({stats.total / browsing:.1f}/s); "
        f"5xx: {served_5xx}; connection errors: {len(stats.errors)}"
    )
    for line in stats.table():
        print(line)
    for name, value in codat_call_figures().items():
        print(f"  {name}: {value}")
    for line in audit.lines():
        print(f"  {line}")
    ok = audit.ok and served_5xx == 0 and not stats.errors
    print("PASS" if ok else "FAIL")
    return ok
