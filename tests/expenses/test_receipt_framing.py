"""The receipt file may be framed by the portal's own pages (the PDF preview's <object>) and by
no one else's; every other page still refuses to be framed at all."""

import pytest
from django.urls import reverse

from companies.models import Role
from tests.factories import MembershipFactory, ReceiptFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def receipt(client):
    receipt = ReceiptFactory()
    membership = MembershipFactory(company=receipt.expense.company, role=Role.VIEWER)
    client.force_login(membership.user)
    return receipt


def _policy(response):
    """The directives of the response's Content-Security-Policy, by name."""
    directives = response["Content-Security-Policy"].split("; ")
    return {name: sources for name, _, sources in (d.partition(" ") for d in directives)}


def test_the_receipt_file_may_be_framed_by_the_portal_only(client, receipt):
    expense = receipt.expense
    url = reverse("expense-receipt-file", args=[expense.company_id, expense.pk, receipt.pk])

    response = client.get(url)

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    policy = _policy(response)
    assert policy["frame-ancestors"] == "'self'"
    assert policy["default-src"] == "'self'"  # the rest of the site's policy still applies


def test_the_expense_page_itself_still_refuses_every_frame(client, receipt):
    expense = receipt.expense

    response = client.get(reverse("expense-detail", args=[expense.company_id, expense.pk]))

    assert response["X-Frame-Options"] == "DENY"
    assert _policy(response)["frame-ancestors"] == "'none'"
