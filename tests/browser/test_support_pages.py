"""The pages as support sees them in a real browser: view-only staff read every page, are told
they are read-only and what to ask for, and find no button they cannot use; support with the
push permission approves, and the trail says it was support; an invitation is accepted through
its link. Each page is kept as a screenshot under the test's temporary folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from expenses.models import ExpenseStatus
from tests.browser.test_queue import _sign_in
from tests.factories import MembershipFactory, ReadOnlySupportFactory, SupportFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company, settled_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def books() -> Any:
    books = pushable_company(name="Harbour Coffee Ltd")
    settled_sync(
        books, at=timezone.now() - timedelta(hours=1), failures=["Account 400 is archived"]
    )
    coded_expense(books, status=ExpenseStatus.APPROVED, merchant_name="Pret")
    MembershipFactory(company=books.company)
    return books


def _shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_view_only_staff_are_told_what_they_may_do_on_every_page(page, books, tmp_path):
    company = books.company
    _sign_in(page, ReadOnlySupportFactory())
    _shot(page, tmp_path, "readonly-companies")
    expect(page.locator("#connect-note")).to_contain_text("“Can add company” permission")

    page.goto(f"/companies/{company.pk}/expenses/")
    _shot(page, tmp_path, "readonly-queue")
    expect(page.locator("#support-note")).to_contain_text("You are viewing as support: read-only")
    expect(page.locator("#support-note")).to_contain_text("“Can change company” permission")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Push approved")).to_have_count(0)

    page.goto(f"/companies/{company.pk}/settings/")
    _shot(page, tmp_path, "readonly-settings")
    expect(page.locator("#members-note")).to_contain_text("“Can add membership” to invite")
    expect(page.get_by_role("button", name="Send invitation")).to_have_count(0)
    expect(page.get_by_role("button", name="Refresh now")).to_have_count(0)

    page.goto("/dashboard/causes/?cause=Account+%3Cn%3E+is+archived")
    _shot(page, tmp_path, "readonly-cause")
    expect(page.locator("#retry-refusal")).to_contain_text("“Can change company” permission")
    expect(page.get_by_role("button", name="Retry failed items")).to_have_count(0)


def test_support_approves_and_the_trail_says_support(page, books, tmp_path):
    company = books.company
    expense = coded_expense(books, status=ExpenseStatus.UNCATEGORIZED, merchant_name="Uber")
    expense.status = ExpenseStatus.CATEGORIZED
    expense.save(update_fields=["status"])
    _sign_in(page, SupportFactory(username="sam"))

    page.goto(f"/companies/{company.pk}/expenses/{expense.pk}/")
    expect(page.locator("#support-note")).to_contain_text("You are working as support")
    page.get_by_role("button", name="Approve").first.click()
    expect(page.locator("li", has_text="sam (support)").first).to_be_visible()
    _shot(page, tmp_path, "support-expense")

    page.goto(f"/companies/{company.pk}/settings/")
    _shot(page, tmp_path, "support-settings")
    expect(page.locator("#members-note")).to_contain_text("“Can add membership”")


def test_an_invitee_accepts_through_the_link_and_makes_an_account(page, books, tmp_path):
    from companies.models import Role

    approver = MembershipFactory(company=books.company, role=Role.APPROVER).user
    _sign_in(page, approver)
    page.goto(f"/companies/{books.company.pk}/settings/")
    page.get_by_label("Invite a member by e-mail").fill("new.person@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".messages")).to_contain_text("Invitation sent to new.person@example.com")
    _shot(page, tmp_path, "approver-invited")
    link = page.locator(".invitation-link").first.input_value()

    page.get_by_role("button", name="Sign out").click()
    page.goto(link)
    _shot(page, tmp_path, "invitee-accept")
    page.get_by_label("Username").fill("newperson")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-9")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-9")
    page.get_by_role("button", name="Create my account and join").click()

    expect(page.get_by_role("heading", name="Harbour Coffee Ltd")).to_be_visible()
    _shot(page, tmp_path, "invitee-joined")
