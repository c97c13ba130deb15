"""The workspace's "Push approved" in a real browser, with a real worker pushing to the sandbox:
the answer says the push started and disables the button, the panel follows the push to its end
without a reload, an expense approved meanwhile counts for the next push, and the rows show the
result."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from companies.models import Role
from companies.platforms import Platform
from expenses.coding import LineInput, expense_set_lines
from expenses.models import Expense, ExpenseStatus
from sandbox.models import SandboxSettings
from syncs.models import Sync, SyncState
from tests.factories import ExpenseFactory, MembershipFactory, UserFactory
from tests.integration.conftest import WorkerProcess, celery_workers, wait_for  # noqa: F401
from tests.integration.sandbox_company import SandboxBooks, onboard
from tests.integration.test_push_pipeline import _approved

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Long enough for the page to see the sync running, and to approve an expense meanwhile.
SANDBOX_SYNC_DELAY_MS = 6000


@pytest.fixture
def worker(
    live_server: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    celery_workers: Callable[[], WorkerProcess],  # noqa: F811
) -> Iterator[WorkerProcess]:
    """A worker pushing to the sandbox of the live server; what the live server queues (the
    push) goes to it."""
    from sfe_portal.celery import app

    url = live_server.url + "/codat-sandbox"
    settings.CODAT_BASE_URL = url
    monkeypatch.setenv("CODAT_BASE_URL", url)
    SandboxSettings.objects.update_or_create(
        pk=1,
        defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"},
    )
    started = celery_workers()
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = started.queue
    yield started
    app.conf.task_default_queue = default_queue


def _coded(books: SandboxBooks, merchant: str) -> Expense:
    """An expense coded and ready to approve."""
    account = next(
        a for a in books.accounts.values() if "Payment" in a.valid_transaction_types and a.is_usable
    )
    rate = next(t for t in books.tax_rates if t.is_usable and t.effective_rate == 0)
    expense = ExpenseFactory(
        company=books.company,
        amount=Decimal("30.00"),
        currency=books.company.base_currency,
        merchant_name=merchant,
    )
    expense_set_lines(
        expense=expense, lines=[LineInput(expense.amount, Decimal(0), account, rate)], by=None
    )
    return expense


def _sign_in(page: Any, user: Any) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Companies").wait_for()


def test_push_approved_shows_it_started_and_follows_it_to_the_end_without_a_reload(
    page: Any, worker: WorkerProcess
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    books = onboard(Platform.XERO)
    # The sandbox's data pulls answer at once; its syncs, from now, take a while.
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=SANDBOX_SYNC_DELAY_MS)
    approved = _approved(books, 2)
    first, later = _coded(books, "Approved first"), _coded(books, "Approved later")
    pushed = [*approved, first]
    user = UserFactory()
    MembershipFactory(user=user, company=books.company, role=Role.APPROVER)
    _sign_in(page, user)
    page.goto(f"/companies/{books.company.pk}/expenses/?tab=all")
    page.evaluate("window.notReloaded = true")  # gone if the page is loaded again
    panel = page.locator("#push-panel")
    button = page.locator("[data-push]")
    expect(button).to_have_text("Push approved (2)")

    # An expense approved in its row counts at once (the panel comes with the row's answer).
    with page.expect_response(lambda r: "/approve/" in r.url):
        page.locator(f"#row-{first.pk} [data-action=approve]").click()
    expect(button).to_have_text("Push approved (3)")
    expect(button).to_be_enabled()

    with page.expect_response(lambda r: "/push/start/" in r.url) as answer:
        button.click()

    assert "Push started" in answer.value.text()
    expect(panel).to_contain_text("Push started · 3 expenses")
    expect(button).to_be_disabled()

    # The worker takes the push up; while Codat writes to the ledger the button stays disabled,
    # and an expense approved meanwhile counts for the next push.
    wait_for(
        lambda: Sync.objects.filter(company=books.company, state=SyncState.IN_PROGRESS).exists(),
        timeout=120,
        what="the worker to start the sync",
        worker=worker,
    )
    with page.expect_response(lambda r: "/approve/" in r.url):
        page.locator(f"#row-{later.pk} [data-action=approve]").click()
    expect(button).to_have_text("Push approved (1)")
    expect(button).to_be_disabled()

    # The end, followed by the panel's polling: the result, the button back, the rows as now.
    expect(panel.locator(".push-line")).to_contain_text("Finished", timeout=120_000)
    expect(panel.locator(".push-line")).to_contain_text("3 synced")
    expect(button).to_be_enabled()
    expect(button).to_have_text("Push approved (1)")
    for expense in pushed:
        expect(page.locator(f"#row-{expense.pk} .badge")).to_have_text("Synced")
    expect(page.locator("#tab-count-synced")).to_have_text("3")
    expect(page.locator("#tab-count-ready")).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True
    assert set(
        Expense.objects.filter(pk__in=[e.pk for e in pushed]).values_list("status", flat=True)
    ) == {ExpenseStatus.SYNCED}
    assert not errors, "the page logged errors:\n" + "\n".join(errors)
