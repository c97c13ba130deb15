"""A refresh after the customer changed their chart sends exactly the affected open expenses
back to To categorize, with the reason; nothing else moves."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from companies import tasks
from companies.models import LedgerAccount, TaxRate
from expenses.coding import expense_set_coding
from expenses.models import ExpenseStatus
from expenses.services import expense_approve
from tests.factories import ExpenseFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _coded(company, account, tax_rate, *, approve=True, **fields):
    by = User.objects.get(username="support")
    expense = ExpenseFactory(company=company, currency=company.base_currency, **fields)
    assert expense_set_coding(expense=expense, by=by, account=account, tax_rate=tax_rate) == []
    if approve:
        expense_approve(expense=expense, by=by)
    expense.refresh_from_db()
    return expense


def test_a_refresh_flags_exactly_the_expenses_whose_coding_the_chart_no_longer_offers(
    sandbox, ready_company
):
    company = ready_company()
    travel, meals, office = [
        a
        for a in LedgerAccount.objects.usable().filter(company=company, account_type="Expense")
        if a.accepts("Payment")
    ][:3]
    no_tax = TaxRate.objects.usable().get(company=company, code="NONE")
    purchases = next(
        t
        for t in TaxRate.objects.usable().filter(company=company, effective_rate__gt=0)
        if "Payment" in t.valid_transaction_types
    )
    on_archived = _coded(company, travel, no_tax)
    on_deleted_tax = _coded(company, meals, purchases, approve=False)
    untouched = _coded(company, office, no_tax)
    synced_on_archived = _coded(company, travel, no_tax)
    type(synced_on_archived).objects.filter(pk=synced_on_archived.pk).update(
        status=ExpenseStatus.SYNCED
    )

    sandbox.change_record(company, "chartOfAccounts", travel.codat_id, status="Archived")
    sandbox.delete_record(company, "taxRates", purchases.codat_id)
    tasks.refresh.delay(company.pk)

    for expense in (on_archived, on_deleted_tax, untouched, synced_on_archived):
        expense.refresh_from_db()
    assert on_archived.status == ExpenseStatus.UNCATEGORIZED
    assert "archived" in on_archived.needs_recoding_reason.lower()
    assert on_deleted_tax.status == ExpenseStatus.UNCATEGORIZED
    assert "deleted" in on_deleted_tax.needs_recoding_reason.lower()
    assert untouched.status == ExpenseStatus.APPROVED
    assert untouched.needs_recoding_reason == ""
    assert synced_on_archived.status == ExpenseStatus.SYNCED
    travel.refresh_from_db()
    assert travel.status == "Archived"
    assert travel.valid_transaction_types == []  # archived accounts leave mapping options


def test_an_account_that_stops_accepting_the_type_flags_its_open_expenses(sandbox, ready_company):
    from companies.models import AccountType

    company = ready_company()
    income = next(
        a
        for a in LedgerAccount.objects.usable().filter(company=company, account_type="Income")
        if a.accepts("Reward")
    )
    no_tax = TaxRate.objects.usable().get(company=company, code="NONE")
    reward = _coded(company, income, no_tax, type="Reward")

    # The accountant turns the income account into a liability: it accepts no type any more.
    sandbox.change_record(
        company, "chartOfAccounts", income.codat_id, type=AccountType.LIABILITY.value
    )
    tasks.refresh.delay(company.pk)

    reward.refresh_from_db()
    income.refresh_from_db()
    assert income.valid_transaction_types == []
    assert reward.status == ExpenseStatus.UNCATEGORIZED
    assert reward.needs_recoding_reason


@pytest.mark.django_db(transaction=False)
def test_the_recheck_reads_untouched_expenses_in_a_constant_number_of_queries(
    django_assert_max_num_queries,
):
    from companies.models import CompanyConfiguration, CompanyStatus
    from expenses.recheck import company_recheck_expenses
    from tests.factories import CompanyFactory, ExpenseLineFactory, LedgerAccountFactory

    company = CompanyFactory(status=CompanyStatus.READY)
    CompanyConfiguration.objects.create(
        company=company,
        bank_account=LedgerAccountFactory(company=company, is_bank_account=True),
    )
    travel = LedgerAccountFactory(company=company, valid_transaction_types=["Payment"])
    archived = LedgerAccountFactory(
        company=company, valid_transaction_types=["Payment"], status="Archived"
    )
    for _ in range(25):
        ExpenseLineFactory(
            expense=ExpenseFactory(company=company, status=ExpenseStatus.APPROVED), account=travel
        )
    flagged = ExpenseFactory(company=company, status=ExpenseStatus.UNCATEGORIZED)
    ExpenseLineFactory(expense=flagged, account=archived)

    with django_assert_max_num_queries(12):
        assert company_recheck_expenses(company=company) == 1

    flagged.refresh_from_db()
    assert "archived" in flagged.needs_recoding_reason


def test_a_pull_run_on_its_own_rechecks_too(sandbox, ready_company):
    """The demo seed pulls without the refresh tasks: the recheck follows every pull."""
    from companies.refresh import company_refresh_pull

    company = ready_company()
    travel = next(
        a
        for a in LedgerAccount.objects.usable().filter(company=company, account_type="Expense")
        if a.accepts("Payment")
    )
    on_archived = _coded(
        company, travel, TaxRate.objects.usable().get(company=company, code="NONE")
    )

    sandbox.change_record(company, "chartOfAccounts", travel.codat_id, status="Archived")
    company_refresh_pull(company=company)

    on_archived.refresh_from_db()
    assert on_archived.status == ExpenseStatus.UNCATEGORIZED
    assert "archived" in on_archived.needs_recoding_reason.lower()


def test_the_newer_generations_valid_for_is_kept_and_a_change_flags_the_expenses(
    sandbox, ready_company, settings
):
    """A company on the newer generation keeps each account's `validFor`; an account the
    options stop listing for an expense's type sends its open expenses back to coding, where
    v1 kept no such list."""
    from companies.models import AccountType

    settings.CODAT_EXPENSES_API_DEFAULT = "expenses"
    company = ready_company()
    assert company.expenses_api == "expenses"
    accounts = LedgerAccount.objects.filter(company=company)
    assert all(a.valid_for is not None for a in accounts)
    bank = accounts.filter(is_bank_account=True).first()
    assert bank is not None
    assert "transfer-transactions" in bank.valid_for
    travel = next(
        a
        for a in accounts.usable().filter(account_type="Expense")
        if a.accepts("Payment", "expenses")
    )
    assert "expense-transactions.Payment" in travel.valid_for
    no_tax = TaxRate.objects.usable().get(company=company, code="NONE")
    payment = _coded(company, travel, no_tax)

    # An equity account is valid for nothing: the options list it for no expense type.
    sandbox.change_record(
        company, "chartOfAccounts", travel.codat_id, type=AccountType.EQUITY.value
    )
    tasks.refresh.delay(company.pk)

    travel.refresh_from_db()
    payment.refresh_from_db()
    assert travel.valid_for == []
    assert payment.status == ExpenseStatus.UNCATEGORIZED
    assert "is not valid for Payment transactions in Codat's Expenses API" in (
        payment.needs_recoding_reason
    )


def test_v1_keeps_no_valid_for(sandbox, ready_company):
    company = ready_company()

    assert company.expenses_api == "v1"
    assert set(
        LedgerAccount.objects.filter(company=company).values_list("valid_for", flat=True)
    ) == {None}
