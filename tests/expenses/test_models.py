"""The database itself refuses what the expenses domain forbids."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from expenses.models import CategorizationRule, ExpenseStatus
from tests.factories import (
    CompanyFactory,
    ExpenseFactory,
    ExpenseLineFactory,
    LedgerAccountFactory,
    ReceiptFactory,
)

pytestmark = pytest.mark.django_db


def _refused(build):
    with pytest.raises(IntegrityError), transaction.atomic():
        build()


def test_expense_id_is_a_uuid_that_never_changes():
    expense = ExpenseFactory()
    original = expense.pk

    expense.merchant_name = "Changed"
    expense.save()
    expense.refresh_from_db()

    assert expense.pk == original
    assert len(str(original)) == 36


def test_external_id_is_unique_per_company_only():
    expense = ExpenseFactory(external_id="tx-1")
    ExpenseFactory(external_id="tx-1")  # another company

    _refused(lambda: ExpenseFactory(company=expense.company, external_id="tx-1"))


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": Decimal("-0.01")},
        {"amount": Decimal("5000000.01")},
        {"currency": "gbp"},
        {"currency": "GB"},
        {"currency_rate": Decimal("0")},
        {"currency_rate": Decimal("-1.2")},
        {"type": "Purchase"},
        {"status": "lost"},
        {"source": "email"},
        {"external_id": ""},
        {"approved_at": timezone.now(), "status": ExpenseStatus.CATEGORIZED},
    ],
)
def test_expense_refuses_invalid_values(fields):
    _refused(lambda: ExpenseFactory(**fields))


def test_expense_accepts_the_bounds():
    ExpenseFactory(amount=Decimal("0"))
    ExpenseFactory(amount=Decimal("5000000"), currency_rate=Decimal("1.123456789"))


@pytest.mark.parametrize(
    "fields",
    [
        {"position": 100},
        {"net_amount": Decimal("-1")},
        {"tax_amount": Decimal("-1")},
        {"net_amount": Decimal("5000001")},
    ],
)
def test_line_refuses_invalid_values(fields):
    _refused(lambda: ExpenseLineFactory(**fields))


def test_line_positions_are_unique_per_expense():
    line = ExpenseLineFactory(position=0)

    _refused(lambda: ExpenseLineFactory(expense=line.expense, position=0))


def test_receipt_refuses_empty_files_and_bad_hashes():
    _refused(lambda: ReceiptFactory(size=0))
    _refused(lambda: ReceiptFactory(sha256="not-a-hash"))


def test_same_file_is_stored_once_per_expense():
    receipt = ReceiptFactory(sha256="a" * 64)

    _refused(lambda: ReceiptFactory(expense=receipt.expense, sha256="a" * 64))


def test_receipt_is_stored_under_a_name_we_choose():
    receipt = ReceiptFactory(sha256="b" * 64, file__filename="../../etc/passwd.pdf")

    assert receipt.file.name.startswith(f"receipts/{receipt.expense.company_id}/")
    assert ".." not in receipt.file.name
    assert receipt.file.name.endswith(f"{'b' * 64}.pdf")


def _rule(**fields):
    company = fields.pop("company", None) or CompanyFactory()
    return CategorizationRule.objects.create(
        company=company,
        pattern=fields.pop("pattern", "uber"),
        account=LedgerAccountFactory(company=company),
        **fields,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"pattern": ""},
        {"match": "regex"},
        {"transaction_type": "Purchase"},
        {"min_amount": Decimal("10"), "max_amount": Decimal("5")},
    ],
)
def test_rule_refuses_invalid_values(fields):
    _refused(lambda: _rule(**fields))


def test_rule_accepts_an_open_amount_range():
    _rule(min_amount=Decimal("10"))
    _rule(max_amount=Decimal("10"))
    _rule(min_amount=Decimal("5"), max_amount=Decimal("5"))
