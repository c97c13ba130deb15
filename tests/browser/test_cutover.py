"""Support moves a company to the newer Expenses API from its settings page in a real browser:
the button shows the dry run in place, the confirmation moves the company and the page says so
without a reload. The screenshots are kept under the test's temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from companies.models import Company, ExpensesApiSwitch
from companies.platforms import ApiGeneration
from tests.browser.test_queue import _sign_in
from tests.factories import SupportFactory
from tests.syncs.cutover_data import v1_company_with_an_adjustment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_moves_a_company_after_reading_the_dry_run(page, monkeypatch, tmp_path: Path):
    refreshes: list[Any] = []
    # The re-read of the mapping options is queued for the worker: not this test's concern.
    monkeypatch.setattr(
        "syncs.cutover.company_refresh_request", lambda *, company: refreshes.append(company)
    )
    books = v1_company_with_an_adjustment()
    support = SupportFactory(username="support-anna")
    _sign_in(page, support)

    page.goto(f"/companies/{books.company.pk}/settings/")
    expect(page.locator("#expenses-api-speaks")).to_have_text("Sync for Expenses v1")
    page.get_by_role("link", name="Move to the newer Expenses API").click()

    move = page.locator("#expenses-api-move")
    expect(move).to_contain_text("1 expense would go back to coding")
    expect(move).to_contain_text("Xero does not accept Adjustment in transactions")
    page.screenshot(path=str(tmp_path / "dry-run.png"), full_page=True)
    assert Company.objects.get(pk=books.company.pk).expenses_api == ApiGeneration.V1

    move.get_by_role("button", name="Move Harbour Coffee Ltd to the newer Expenses API now").click()

    expect(move).to_contain_text("Harbour Coffee Ltd moved from Sync for Expenses v1")
    expect(page.locator("#expenses-api-speaks")).to_contain_text("Expenses (newer)")
    page.screenshot(path=str(tmp_path / "moved.png"), full_page=True)
    assert Company.objects.get(pk=books.company.pk).expenses_api == ApiGeneration.EXPENSES
    assert ExpensesApiSwitch.objects.get().switched_by == support
    assert len(refreshes) == 1
