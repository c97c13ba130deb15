"""A new user's first journey on the demo exactly as `make run` seeds it, in a real browser with
a real worker: sign in as finance, code three expenses from the first page of "To categorize",
approve them, push, watch them reach "Synced" without a reload, open the sync; then sign in as
support and find the sync on the dashboard.

Any console error, failed request, answer of 400 or more, CSP violation, or template syntax in
the visible text fails the journey."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from companies.models import Company
from expenses.models import Expense, ExpenseStatus
from syncs.models import Sync
from tests.integration.conftest import WorkerProcess, celery_workers  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RAW_SYNTAX = ("{#", "#}", "{%", "%}", "{{", "}}")
# Long enough for a worker to push the demo's approved expenses and the sandbox to sync them.
PUSH_TIMEOUT_MS = 120_000


@pytest.fixture
def demo(
    live_server: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    celery_workers: Callable[[], WorkerProcess],  # noqa: F811
) -> Iterator[None]:
    """The demo as `make run` seeds it, a worker on a queue of this test's, and the sandbox
    answering at the live server, delivering its webhooks there."""
    from sandbox.models import SandboxSettings
    from sfe_portal.celery import app

    url = live_server.url + "/codat-sandbox"
    settings.CODAT_BASE_URL = url
    monkeypatch.setenv("CODAT_BASE_URL", url)
    call_command("seed_demo")
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"webhook_url": live_server.url + "/webhooks/codat/"}
    )
    worker = celery_workers()
    saved = (app.conf.task_default_queue, app.conf.task_routes)
    app.conf.task_default_queue = worker.queue
    app.conf.task_routes = {}
    yield
    app.conf.task_default_queue, app.conf.task_routes = saved


class Watch:
    """What the browser saw go wrong on a page."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # A request the browser itself cancels because the page moved on (net::ERR_ABORTED, e.g.
        # the icon of a page just left) is no failure; answers of 400 and over are caught below.
        page.on(
            "requestfailed",
            lambda r: (
                self.problems.append(f"failed: {r.method} {r.url} ({r.failure})")
                if "ERR_ABORTED" not in (r.failure or "")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: (
                self.problems.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )

    def check_text(self, page: Any) -> None:
        text = page.locator("body").inner_text()
        self.problems += [
            f"template syntax {token!r} on {page.url}" for token in RAW_SYNTAX if token in text
        ]


def _sign_in(page: Any, watch: Watch, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(username)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Companies").wait_for()
    watch.check_text(page)


def _code_and_approve(page: Any, row: Any) -> None:
    row_id = row.get_attribute("id")

    def choose_first(field: str) -> None:
        page.evaluate(f"document.getElementById('{row_id}').dataset.old = '1'")
        select = page.locator(f"#{row_id} select[name='{field}']")
        value = select.locator("option:not([value=''])").first.get_attribute("value")
        select.select_option(value)
        expect(page.locator(f"#{row_id}:not([data-old])")).to_be_attached()

    choose_first("account")
    choose_first("tax_rate")
    approve = page.locator(f"#{row_id} [data-action='approve']")
    expect(approve).to_be_visible()
    approve.click()
    expect(page.locator(f"#{row_id} .badge")).to_have_text("Approved")


def test_a_new_user_codes_approves_pushes_and_support_sees_the_sync(page: Any, demo: None):
    watch = Watch(page)
    company = Company.objects.get(name="Harbour Coffee Ltd")
    _sign_in(page, watch, "finance")
    page.get_by_role("link", name="Harbour Coffee Ltd").click()
    page.wait_for_url(re.compile(rf"/companies/{company.pk}/"))
    page.goto(f"/companies/{company.pk}/expenses/")
    watch.check_text(page)

    # Three rows of the first page the row's own choices make ready.
    coded: list[str] = []
    rows = page.locator("tr[data-row]")
    for index in range(rows.count()):
        if len(coded) == 3:
            break
        row = rows.nth(index)
        if row.locator("select[name='account']").count() == 0:
            continue
        row_id = row.get_attribute("id")
        _code_and_approve(page, page.locator(f"#{row_id}"))
        coded.append(row_id.removeprefix("row-"))
    assert len(coded) == 3
    approved = Expense.objects.filter(company=company, status=ExpenseStatus.APPROVED).count()
    push = page.get_by_role("button", name=re.compile(r"Push approved"))
    expect(push).to_have_text(f"Push approved ({approved})")

    page.evaluate("window.journeyMarker = 'not reloaded'")
    push.click()
    expect(page.locator("#push-panel")).to_contain_text("Push started")
    try:
        for expense_id in coded:
            expect(page.locator(f"#row-{expense_id} .badge")).to_have_text(
                "Synced", timeout=PUSH_TIMEOUT_MS
            )
    except AssertionError:
        print("PANEL:", page.locator("#push-panel").inner_text())
        print("DB:", list(Expense.objects.filter(pk__in=coded).values_list("status", flat=True)))
        print("ROW:", page.locator(f"#row-{coded[0]}").evaluate("e => e.outerHTML")[:600])
        raise
    assert page.evaluate("window.journeyMarker") == "not reloaded"
    watch.check_text(page)

    sync = Sync.objects.filter(company=company).latest("requested_at")
    page.locator("#push-panel").get_by_role("link", name="View the sync").first.click()
    expect(page.locator("body")).to_contain_text(str(sync.codat_sync_id))
    watch.check_text(page)

    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, watch, "admin")
    page.get_by_role("link", name="Sync health").click()
    page.get_by_role("heading", name=re.compile("Sync health")).wait_for()
    watch.check_text(page)
    search = page.get_by_role("searchbox").first
    search.fill(str(sync.codat_sync_id))
    search.press("Enter")
    expect(page.locator("body")).to_contain_text(str(sync.codat_sync_id)[:8])
    watch.check_text(page)

    assert watch.problems == []
