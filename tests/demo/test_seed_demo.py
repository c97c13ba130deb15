"""`seed_demo`: the demo sign-ins, a company on each platform on Sync for Expenses v1 and one on
Codat's newer Expenses API, onboarded through the real services against the embedded sandbox
(in-process, as `make run` seeds before any server listens), and their expenses; running it
twice changes nothing."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count
from django.test import RequestFactory

from companies.models import (
    CompanyConfiguration,
    CompanyStatus,
    LedgerAccount,
    Membership,
    Role,
)
from companies.platforms import ApiGeneration, Platform
from expenses.models import Expense, ExpenseStatus, Receipt
from sandbox.models import SandboxSettings

pytestmark = pytest.mark.django_db


def _sign_in_request():
    """Authentication goes through the sign-in locks, which count by the request's address."""
    return RequestFactory().post("/accounts/login/")


NEWER = "Kestrel Design Ltd"  # the demo company on Codat's newer Expenses API


@pytest.fixture(autouse=True)
def _instant_sandbox():
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )


def _snapshot():
    return {
        "users": list(User.objects.order_by("username").values("id", "username", "is_superuser")),
        "expenses": list(
            Expense.objects.order_by("external_id").values_list("external_id", "status")
        ),
        "accounts": LedgerAccount.objects.count(),
        "receipts": Receipt.objects.count(),
    }


def test_seed_demo_creates_five_ready_companies_and_twice_changes_nothing(capsys):
    call_command("seed_demo", expenses=30)
    first = _snapshot()
    call_command("seed_demo", expenses=30)

    assert _snapshot() == first
    assert [(u["username"], u["is_superuser"]) for u in first["users"]] == [
        ("admin", True),
        ("finance", False),
    ]
    assert authenticate(_sign_in_request(), username="admin", password="admin").is_staff
    finance = authenticate(_sign_in_request(), username="finance", password="finance")
    configs = CompanyConfiguration.objects.select_related("company")
    assert sorted((c.company.platform, c.company.expenses_api) for c in configs) == sorted(
        [(p, ApiGeneration.V1) for p in Platform.values] + [(Platform.XERO, ApiGeneration.EXPENSES)]
    )
    for config in configs:
        assert config.company.status == CompanyStatus.READY
        assert config.saved_to_codat_at is not None
        assert config.bank_account.is_bank_account
        assert Membership.objects.get(user=finance, company=config.company).role == Role.APPROVER
    statuses = dict(
        Expense.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    assert statuses[ExpenseStatus.UNCATEGORIZED] > 0
    assert statuses[ExpenseStatus.APPROVED] > 0
    assert Expense.objects.count() == 5 * 30
    assert Expense.objects.exclude(currency_rate=None).exists()
    assert Expense.objects.annotate(n=Count("lines")).filter(n__gt=1).exists()
    assert first["receipts"] > 0
    out = capsys.readouterr().out
    assert "finance / finance" in out
    assert "Kestrel Design Ltd: ready · Expenses API" in out
    assert "Harbour Coffee Ltd: ready · Sync for Expenses v1" in out


def test_seed_demo_restores_a_changed_demo_password():
    call_command("seed_demo", expenses=3)
    finance = User.objects.get(username="finance")
    finance.set_password("something-else")
    finance.save()

    call_command("seed_demo", expenses=3)

    assert authenticate(_sign_in_request(), username="finance", password="finance") is not None


def _pushable_once_coded(expense, company, choices):
    """Whether some account and tax rate the expense's queue row offers make it ready."""
    from expenses.coding import expense_set_coding
    from expenses.selectors import queue_row
    from expenses.services import ExpenseRefused, expense_readiness

    row = queue_row(company=company, expense_id=expense.pk, choices=choices)
    for account in row.account_options[:3]:
        for tax_rate in [*row.tax_options[:3], None]:
            try:
                expense_set_coding(expense=expense, by=None, account=account, tax_rate=tax_rate)
            except ExpenseRefused:
                continue
            expense.refresh_from_db()
            if not expense_readiness(expense):
                return True
    return False


def _codable(company, choices):
    """How many of the company's uncategorized expenses there are, and how many some choice
    their queue rows offer makes ready."""
    uncategorized = pushable = 0
    for expense in Expense.objects.filter(
        company=company, status=ExpenseStatus.UNCATEGORIZED
    ).select_related("company", "supplier_override"):
        uncategorized += 1
        pushable += _pushable_once_coded(expense, company, choices)
    return uncategorized, pushable


def test_the_demo_configuration_fits_each_base_currency_and_its_spend_can_be_coded():
    from companies.models import Company
    from expenses.selectors import coding_choices
    from syncs.claim import push_blockers

    call_command("seed_demo", expenses=60)

    codable = {}
    for company in Company.objects.all():
        config = company.configuration
        assert config.bank_account.currency == company.base_currency, company
        assert config.supplier.default_currency in ("", company.base_currency), company
        assert push_blockers(company=company) == [], company
        codable[company.name] = _codable(company, coding_choices(company=company))

    uncategorized = sum(n for n, _ in codable.values())
    pushable = sum(n for _, n in codable.values())
    assert uncategorized >= 50
    assert pushable / uncategorized >= 0.9, codable
    # The newer-generation company on its own, under its generation's rules.
    uncategorized, pushable = codable[NEWER]
    assert uncategorized >= 15
    assert pushable / uncategorized >= 0.9, codable


def test_the_newer_generation_company_speaks_it_here_and_in_the_sandbox_and_is_ready_to_push():
    from companies.models import Company
    from companies.platforms import rules_for
    from expenses.services import expense_readiness
    from sandbox.models import SandboxCompany
    from syncs.claim import push_blockers

    call_command("seed_demo", expenses=60)

    company = Company.objects.get(name=NEWER)
    assert (company.platform, company.expenses_api) == (Platform.XERO, ApiGeneration.EXPENSES)
    assert company.status == CompanyStatus.READY
    assert push_blockers(company=company) == []
    config = company.configuration
    assert config.saved_to_codat_at is not None
    assert config.bank_account.is_bank_account
    assert config.bank_account.currency == company.base_currency
    # Codat's company moved to the Expenses product before the pull: its mapping options came
    # in the newer shape, which names only the four expense types.
    sandbox_company = SandboxCompany.objects.get(pk=company.codat_company_id)
    assert sandbox_company.expenses_api == ApiGeneration.EXPENSES
    expense_types = {"Payment", "Refund", "Reward", "Chargeback"}
    accounts = LedgerAccount.objects.filter(company=company)
    assert set().union(*(a.valid_transaction_types for a in accounts)) == expense_types
    # Only types the generation takes on Xero, several of them, in every state.
    rules = rules_for(company.platform, company.expenses_api)
    expenses = Expense.objects.filter(company=company)
    types = set(expenses.values_list("type", flat=True))
    assert types <= rules.supported_types
    assert len(types) > 1
    assert {
        ExpenseStatus.UNCATEGORIZED,
        ExpenseStatus.CATEGORIZED,
        ExpenseStatus.APPROVED,
    } <= set(expenses.values_list("status", flat=True))
    approved = list(expenses.filter(status=ExpenseStatus.APPROVED).select_related("company"))
    assert approved
    assert [e for e in approved if expense_readiness(e)] == []
    assert Receipt.objects.filter(expense__company=company).exists()
