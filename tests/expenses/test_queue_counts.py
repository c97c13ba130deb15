"""The queue's counts stay current: a row approved, excluded or restored inline answers with
the new tab counts and push button out of band; a bulk action's page shows them too."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from expenses.coding import expense_set_coding
from expenses.models import Expense, ExpenseStatus
from tests.factories import ExpenseFactory
from tests.syncs.dashboard_data import pushable_company

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}

# What an inline approve may cost: sessions and permissions, the expense read and moved with
# its audit event (savepoints included), the re-rendered row (the coding choices are the page's,
# read once per master data version), then the tab counts with the approved count in one query
# and the push panel's syncs in one more.
INLINE_APPROVE_MAX_QUERIES = 16


@pytest.fixture
def books(db):
    """A company that can push: its push button is enabled whenever something is approved."""
    return pushable_company()


def _coded(books, **fields):
    expense = ExpenseFactory(company=books.company, **fields)
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)
    return expense


def _oob_count(body: str, tab: str) -> str:
    [count] = re.findall(
        rf'<span class="count" id="tab-count-{tab}" hx-swap-oob="true">([^<]*)</span>', body
    )
    return count


def _oob_push_panel(body: str) -> str:
    [panel] = re.findall(
        r'<section id="push-panel"[^>]*hx-swap-oob="true".*?</section>', body, re.S
    )
    return panel


def test_approving_a_row_answers_with_the_new_counts_out_of_band(
    client, books, member, django_assert_max_num_queries
):
    expense = _coded(books)
    _coded(books)
    ExpenseFactory(company=books.company)  # to categorize
    client.get(reverse("expense-queue", args=[books.company.pk]))  # the page that shows the row

    with django_assert_max_num_queries(INLINE_APPROVE_MAX_QUERIES):
        response = client.post(
            reverse("expense-approve", args=[books.company.pk, expense.pk]), headers=HTMX
        )

    body = response.content.decode()
    # The row comes first: a table row must lead the answer to be read as one.
    assert body.strip().startswith(f'<tr id="row-{expense.pk}"')
    assert _oob_count(body, "ready") == "2"
    assert _oob_count(body, "todo") == "1"
    assert _oob_count(body, "all") == "3"
    panel = _oob_push_panel(body)
    assert "Push approved (1)" in panel
    assert "disabled" not in re.search(r"<button[^>]*data-push[^>]*>", panel).group(0)


def test_excluding_and_restoring_an_approved_row_moves_the_push_count(client, books, member):
    expense = _coded(books)
    client.post(reverse("expense-approve", args=[books.company.pk, expense.pk]), headers=HTMX)
    url = reverse("expense-exclude", args=[books.company.pk, expense.pk])

    excluded = client.post(url, headers=HTMX).content.decode()

    assert _oob_count(excluded, "excluded") == "1"
    assert _oob_count(excluded, "ready") == "0"
    panel = _oob_push_panel(excluded)
    assert "Push approved (0)" in panel
    assert "disabled" in re.search(r"<button[^>]*data-push[^>]*>", panel).group(0)

    restored = client.post(url, headers=HTMX).content.decode()

    assert _oob_count(restored, "excluded") == "0"
    assert _oob_count(restored, "ready") == "1"  # back to coding checked again: ready
    assert 'id="push-panel"' not in restored  # no approved expense came or went


def test_excluding_a_row_to_categorize_sends_the_tab_counts_only(client, books, member):
    expense = ExpenseFactory(company=books.company)

    body = client.post(
        reverse("expense-exclude", args=[books.company.pk, expense.pk]), headers=HTMX
    ).content.decode()

    assert _oob_count(body, "todo") == "0"
    assert _oob_count(body, "excluded") == "1"
    assert 'id="push-panel"' not in body


def test_recoding_a_row_that_stays_in_its_tab_sends_no_counts(client, books, member):
    expense = _coded(books)

    body = client.post(
        reverse("expense-code", args=[books.company.pk, expense.pk]),
        {"account": books.meals.pk, "tax_rate": books.vat.pk},
        headers=HTMX,
    ).content.decode()

    assert "Ready to approve" in body
    assert "hx-swap-oob" not in body


def test_the_page_after_a_bulk_approve_shows_the_new_counts(client, books, member):
    chosen = [_coded(books) for _ in range(3)]

    response = client.post(
        reverse("expense-bulk", args=[books.company.pk]),
        {"action": "approve", "ids": [e.pk for e in chosen], "query": "tab=ready"},
        follow=True,
    )

    body = response.content.decode()
    assert "3 expenses approved." in body
    assert "Push approved (3)" in body
    assert '<span class="count" id="tab-count-ready">3</span>' in body
    assert {e.status for e in Expense.objects.filter(company=books.company)} == {
        ExpenseStatus.APPROVED
    }
