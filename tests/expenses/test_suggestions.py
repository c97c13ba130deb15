"""Suggestions from the company's own history: what is suggested, what never is, what it costs,
how the queue shows it and how accepting it codes the row."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from companies.models import Role, SourceStatus
from expenses.coding import expense_set_coding
from expenses.models import CategorizationRule, EventKind, Expense, ExpenseStatus, merchant_key
from expenses.selectors import coding_choices
from expenses.suggestions import expense_suggestions
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, TrackingCategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client, books):
    membership = MembershipFactory(company=books.company, role=Role.BOOKKEEPER)
    client.force_login(membership.user)
    return membership


def _coded(books, merchant, account, tax_rate=None, tracking=(), times=1, **fields):
    """Past expenses of `merchant`, coded the way finance staff coded them."""
    for _ in range(times):
        expense = ExpenseFactory(company=books.company, merchant_name=merchant, **fields)
        expense_set_coding(
            expense=expense, by=None, account=account, tax_rate=tax_rate, tracking=list(tracking)
        )
        assert expense.status == ExpenseStatus.CATEGORIZED


def _suggest(books, *expenses):
    choices = coding_choices(company=books.company)
    return expense_suggestions(company=books.company, expenses=list(expenses), choices=choices)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Uber", "uber"),
        ("  UBER   Trip  ", "uber trip"),
        ("Uber #1234", "uber"),
        ("TESCO STORES 3021", "tesco stores"),
        ("Shell No. 42", "shell"),
        ("Casino 5", "casino"),
        ("Costa#88", "costa"),
        ("Route66", "route66"),
        ("7-Eleven", "7-eleven"),
        ("1234", "1234"),
    ],
)
def test_merchant_names_are_normalised(name, key):
    assert merchant_key(name) == key


def test_every_way_of_storing_an_expense_keeps_its_merchant_key(books):
    created = ExpenseFactory(company=books.company, merchant_name="Uber #1234")
    assert created.merchant_key == "uber"
    Expense.objects.bulk_create(
        [ExpenseFactory.build(company=books.company, merchant_name="  TESCO STORES 3021 ")]
    )
    created.merchant_name = "Pret A Manger 12"
    created.save(update_fields=["merchant_name"])

    stored = dict(Expense.objects.values_list("merchant_name", "merchant_key"))
    assert stored == {"  TESCO STORES 3021 ": "tesco stores", "Pret A Manger 12": "pret a manger"}


def test_only_each_merchants_most_recent_codings_count(books, monkeypatch):
    from datetime import date

    from expenses import suggestions

    monkeypatch.setattr(suggestions, "HISTORY_PER_MERCHANT", 2)
    _coded(books, "Uber", books.meals, books.vat, times=3, issue_date=date(2024, 1, 1))
    _coded(books, "Uber", books.travel, books.vat, times=2, issue_date=date(2025, 1, 1))
    _coded(books, "Pret", books.meals, books.vat, times=2, issue_date=date(2023, 1, 1))
    uber = ExpenseFactory(company=books.company, merchant_name="Uber")
    pret = ExpenseFactory(company=books.company, merchant_name="Pret")

    suggested = _suggest(books, uber, pret)

    # Three older codings to meals are out of reach: the two most recent went to travel.
    assert (suggested[uber.pk].account, suggested[uber.pk].uses) == (books.travel, 2)
    # Another merchant's old history is read on its own, not crowded out by Uber's.
    assert (suggested[pret.pk].account, suggested[pret.pk].uses) == (books.meals, 2)


def test_the_most_frequent_coding_of_the_merchant_wins(books, tracking):
    _coded(books, "Uber #1234", books.travel, books.vat, [tracking], times=3)
    _coded(books, "UBER  #99", books.meals, books.vat, times=2)
    _coded(books, "Pret", books.meals, books.no_tax, times=5)
    expense = ExpenseFactory(company=books.company, merchant_name="uber 5678")

    suggestion = _suggest(books, expense)[expense.pk]

    assert (suggestion.account, suggestion.tax_rate) == (books.travel, books.vat)
    assert suggestion.tracking == (tracking,)
    assert suggestion.uses == 3


def test_the_same_account_with_another_tax_rate_counts_as_another_coding(books):
    _coded(books, "Uber", books.travel, books.vat, times=2)
    _coded(books, "Uber", books.travel, books.no_tax, times=3)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    suggestion = _suggest(books, expense)[expense.pk]

    assert (suggestion.tax_rate, suggestion.uses) == (books.no_tax, 3)


def test_an_account_no_longer_usable_is_never_suggested(books):
    _coded(books, "Uber", books.travel, books.vat, times=3)
    _coded(books, "Uber", books.meals, books.vat, times=1)
    books.travel.status = SourceStatus.ARCHIVED
    books.travel.save()
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    suggestion = _suggest(books, expense)[expense.pk]

    assert (suggestion.account, suggestion.uses) == (books.meals, 1)


def test_an_archived_tax_rate_or_tracking_category_is_never_suggested(books, tracking):
    _coded(books, "Uber", books.travel, books.vat, times=1)
    _coded(books, "Pret", books.meals, books.no_tax, [tracking], times=1)
    books.vat.is_deleted = True
    books.vat.save()
    tracking.missing_since = tracking.refreshed_at
    tracking.save()
    uber = ExpenseFactory(company=books.company, merchant_name="Uber")
    pret = ExpenseFactory(company=books.company, merchant_name="Pret")

    assert _suggest(books, uber, pret) == {}


def test_an_account_that_does_not_accept_the_type_is_never_suggested(books):
    books.travel.valid_transaction_types = ["Payment"]
    books.travel.save()
    _coded(books, "Uber", books.travel, books.vat, times=3)
    _coded(books, "Uber", books.meals, books.vat, times=1, type="Refund")
    refund = ExpenseFactory(company=books.company, merchant_name="Uber", type="Refund")
    payment = ExpenseFactory(company=books.company, merchant_name="Uber")

    suggestions = _suggest(books, refund, payment)

    assert suggestions[refund.pk].account == books.meals
    assert suggestions[payment.pk].account == books.travel


def test_merchants_a_rule_covers_get_no_suggestion(books):
    _coded(books, "Uber", books.travel, books.vat, times=3)
    CategorizationRule.objects.create(company=books.company, pattern="uber", account=books.meals)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    assert _suggest(books, expense) == {}


def test_an_inactive_rule_does_not_hide_the_suggestion(books):
    _coded(books, "Uber", books.travel, books.vat, times=1)
    CategorizationRule.objects.create(
        company=books.company, pattern="uber", account=books.meals, is_active=False
    )
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    assert expense.pk in _suggest(books, expense)


def test_only_coded_expenses_of_this_company_count_and_only_uncategorized_rows_get_one(books):
    other = make_books()
    ExpenseFactory(company=other.company, merchant_name="Uber")
    foreign = Expense.objects.get(company=other.company)
    expense_set_coding(expense=foreign, by=None, account=other.travel, tax_rate=other.vat)
    todo = ExpenseFactory(company=books.company, merchant_name="Uber")
    excluded = ExpenseFactory(
        company=books.company, merchant_name="Uber", status=ExpenseStatus.EXCLUDED
    )
    expense_set_coding(expense=excluded, by=None, account=books.travel, tax_rate=books.vat)

    assert _suggest(books, todo) == {}
    _coded(books, "Uber", books.meals, books.vat)
    ready = Expense.objects.get(company=books.company, status=ExpenseStatus.CATEGORIZED)
    assert set(_suggest(books, todo, ready, excluded)) == {todo.pk}


def test_approved_and_synced_expenses_count_as_history(books):
    _coded(books, "Uber", books.travel, books.vat, times=2)
    Expense.objects.filter(company=books.company).update(status=ExpenseStatus.SYNCED)
    _coded(books, "Uber", books.meals, books.vat)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    assert _suggest(books, expense)[expense.pk].account == books.travel


def test_suggestions_cost_the_same_queries_for_5_and_50_expenses(books):
    for i in range(50):
        _coded(books, f"Merchant {i}", books.travel, books.vat, [], times=1)
    TrackingCategoryFactory(company=books.company)

    def queries(count):
        expenses = [
            ExpenseFactory(company=books.company, merchant_name=f"Merchant {i}")
            for i in range(count)
        ]
        choices = coding_choices(company=books.company)
        with CaptureQueriesContext(connection) as ctx:
            found = expense_suggestions(company=books.company, expenses=expenses, choices=choices)
        assert len(found) == count
        return len(ctx.captured_queries)

    assert queries(5) == queries(50) <= 3


# --- The queue --------------------------------------------------------------------------------


def test_the_queue_shows_the_suggestion_on_uncategorized_rows(client, books, member):
    _coded(books, "Uber", books.travel, books.vat, times=7)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    response = client.get(reverse("expense-queue", args=[books.company.pk]))

    [row] = response.context["page"].rows
    assert row.expense == expense
    assert row.suggestion.uses == 7
    body = response.content.decode()
    assert f'Suggested: {books.travel} · {books.vat} <span class="muted">(used 7×)</span>' in body
    assert reverse("expense-accept-suggestion", args=[books.company.pk, expense.pk]) in body


def test_viewers_see_no_suggestion_button(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.VIEWER).user)
    _coded(books, "Uber", books.travel, books.vat)
    ExpenseFactory(company=books.company, merchant_name="Uber")

    body = client.get(reverse("expense-queue", args=[books.company.pk])).content.decode()

    assert "accept-suggestion" not in body


def test_the_help_lists_the_s_key(client, books, member):
    body = client.get(reverse("expense-queue", args=[books.company.pk])).content.decode()

    assert "accept the suggested coding of the current expense" in body


def test_the_queue_and_company_pages_link_to_the_rules(client, books, member):
    rules = reverse("rule-list", args=[books.company.pk])

    assert rules in client.get(reverse("expense-queue", args=[books.company.pk])).content.decode()
    assert rules in client.get(reverse("company-detail", args=[books.company.pk])).content.decode()


# --- Accepting --------------------------------------------------------------------------------


def _accept(client, books, expense, data=None):
    return client.post(
        reverse("expense-accept-suggestion", args=[books.company.pk, expense.pk]), data or {}
    )


def test_accepting_codes_the_row_and_answers_the_rerendered_row(client, books, member):
    _coded(books, "Uber", books.travel, books.vat, times=2)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber", amount=Decimal("12.00"))

    response = _accept(client, books, expense)

    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="row-{expense.pk}"')
    assert "Ready to approve" in body
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.CATEGORIZED
    line = expense.lines.get()
    assert (line.account, line.tax_rate, line.tax_amount) == (
        books.travel,
        books.vat,
        Decimal("2.00"),
    )
    event = expense.events.get(kind=EventKind.CODED)
    assert event.actor == member.user
    assert event.message == "Coding changed (suggestion)"


def test_accepting_ignores_coding_sent_by_the_client(client, books, member):
    _coded(books, "Uber", books.travel, books.vat)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    _accept(client, books, expense, {"account": books.meals.pk, "tax_rate": books.no_tax.pk})

    assert expense.lines.get().account == books.travel


def test_accepting_a_suggestion_that_went_away_is_refused_with_the_reason(client, books, member):
    _coded(books, "Uber", books.travel, books.vat)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")
    # The page was rendered with the suggestion; then the account is archived in the ledger.
    books.travel.status = SourceStatus.ARCHIVED
    books.travel.save()

    response = _accept(client, books, expense)

    assert "There is no suggestion for this expense any more." in response.content.decode()
    assert not expense.lines.exists()


def test_accepting_for_another_companys_expense_is_404(client, books, member):
    other = make_books()
    _coded(other, "Uber", other.travel, other.vat)
    foreign = ExpenseFactory(company=other.company, merchant_name="Uber")

    assert _accept(client, books, foreign).status_code == 404
    assert not foreign.lines.exists()


def test_viewers_cannot_accept_and_outsiders_get_404(client, books):
    _coded(books, "Uber", books.travel, books.vat)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    client.force_login(MembershipFactory(company=books.company, role=Role.VIEWER).user)
    assert _accept(client, books, expense).status_code == 403
    client.force_login(MembershipFactory(role=Role.APPROVER).user)
    assert _accept(client, books, expense).status_code == 404
    assert not expense.lines.exists()
