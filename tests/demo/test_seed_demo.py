"""`seed_demo`: the demo sign-ins, four companies onboarded through the real services against
the embedded sandbox (in-process, as `make run` seeds before any server listens), and their
expenses; running it twice changes nothing."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count

from companies.models import (
    CompanyConfiguration,
    CompanyStatus,
    LedgerAccount,
    Membership,
    Role,
)
from companies.platforms import Platform
from expenses.models import Expense, ExpenseStatus, Receipt
from sandbox.models import SandboxSettings

pytestmark = pytest.mark.django_db


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


def test_seed_demo_creates_four_ready_companies_and_twice_changes_nothing(capsys):
    call_command("seed_demo", expenses=30)
    first = _snapshot()
    call_command("seed_demo", expenses=30)

    assert _snapshot() == first
    assert [(u["username"], u["is_superuser"]) for u in first["users"]] == [
        ("admin", True),
        ("finance", False),
    ]
    assert authenticate(username="admin", password="admin").is_staff
    finance = authenticate(username="finance", password="finance")
    configs = CompanyConfiguration.objects.select_related("company")
    assert sorted(c.company.platform for c in configs) == sorted(Platform.values)
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
    assert Expense.objects.count() == 4 * 30
    assert Expense.objects.exclude(currency_rate=None).exists()
    assert Expense.objects.annotate(n=Count("lines")).filter(n__gt=1).exists()
    assert first["receipts"] > 0
    assert "finance / finance" in capsys.readouterr().out


def test_seed_demo_restores_a_changed_demo_password():
    call_command("seed_demo", expenses=3)
    finance = User.objects.get(username="finance")
    finance.set_password("something-else")
    finance.save()

    call_command("seed_demo", expenses=3)

    assert authenticate(username="finance", password="finance") is not None


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


def test_the_demo_configuration_fits_each_base_currency_and_its_spend_can_be_coded():
    from companies.models import Company
    from expenses.selectors import coding_choices
    from expenses.validation import company_context
    from syncs.claim import push_blockers

    call_command("seed_demo", expenses=60)

    uncategorized = pushable = 0
    for company in Company.objects.all():
        config = company.configuration
        assert config.bank_account.currency == company.base_currency, company
        assert config.supplier.default_currency in ("", company.base_currency), company
        assert push_blockers(company=company) == [], company
        ctx = company_context(company=company)
        choices = coding_choices(company=company)
        for expense in Expense.objects.filter(
            company=company, status=ExpenseStatus.UNCATEGORIZED
        ).select_related("company", "supplier_override"):
            assert ctx.base_currency
            uncategorized += 1
            pushable += _pushable_once_coded(expense, company, choices)

    assert uncategorized >= 40
    assert pushable / uncategorized >= 0.9, (pushable, uncategorized)
