"""A member chooses on the company's settings page what they hear of its failures: the card is
swapped in place (no page load), and the choice is there on the next visit."""

from __future__ import annotations

import pytest

from companies.models import Membership, NoticeChoice, Role
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_chooses_the_daily_digest_in_place(page):
    company = CompanyFactory(name="Harbour Coffee Ltd")
    user = UserFactory(username="ada", password="a-long-password-1")
    MembershipFactory(company=company, user=user, role=Role.APPROVER)
    page.goto("/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("a-long-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/companies/{company.pk}/settings/")
    notices = page.locator("#notices")
    assert notices.get_by_label("Every failure, as it happens").is_checked()
    page.evaluate("window.notReloaded = true")

    notices.get_by_label("A daily digest of what is still failing").check()
    notices.get_by_role("button", name="Save").click()

    page.get_by_role("status").filter(has_text="Saved: a daily digest").wait_for()
    assert page.evaluate("window.notReloaded") is True  # swapped in place by htmx
    assert Membership.objects.get(user=user).notices == NoticeChoice.DIGEST
    page.reload()
    assert (
        page.locator("#notices")
        .get_by_label("A daily digest of what is still failing")
        .is_checked()
    )
