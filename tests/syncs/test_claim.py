"""The claim plans each batch's Codat JSON from its own reads of the expenses; what it plans is
exactly what the ledger payload of each expense says, tracking and several lines included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from expenses.ledger import expense_to_transaction, ledger_lines
from expenses.models import Expense, ExpenseStatus
from expenses.validation import company_context
from syncs.models import PushBatch
from syncs.push import company_push_claim
from tests.factories import ExpenseLineFactory, TrackingCategoryFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db


def test_the_planned_items_are_the_expenses_ledger_payloads(monkeypatch):
    monkeypatch.setattr("syncs.push.CLAIM_CHUNK", 2)
    books = pushable_company()
    plain = coded_expense(books, status=ExpenseStatus.APPROVED)
    tracked = coded_expense(books, status=ExpenseStatus.APPROVED, merchant_name="Trainline")
    [line] = tracked.lines.all()
    line.tracking_categories.set(
        [
            TrackingCategoryFactory(company=books.company, name="Sales"),
            TrackingCategoryFactory(company=books.company, name="Marketing"),
        ]
    )
    split = coded_expense(books, status=ExpenseStatus.APPROVED)
    Expense.objects.filter(pk=split.pk).update(amount=Decimal("24.00"))
    ExpenseLineFactory(
        expense=split,
        account=books.meals,
        tax_rate=books.vat,
        net_amount=Decimal("10.00"),
        tax_amount=Decimal("2.00"),
        position=1,
    )

    claim = company_push_claim(company=books.company)

    assert claim.claimed == 3
    [batch] = PushBatch.objects.filter(sync=claim.sync)
    planned = {item["id"]: item for item in batch.payload}
    ctx = company_context(company=books.company)
    for expense in Expense.objects.filter(pk__in=[plain.pk, tracked.pk, split.pk]):
        expected = expense_to_transaction(
            expense=expense, lines=ledger_lines(expense=expense), ctx=ctx
        ).to_api()
        assert planned[str(expense.pk)] == expected
    assert [ref["id"] for ref in planned[str(tracked.pk)]["lines"][0]["trackingRefs"]] == [
        c.codat_id for c in sorted(line.tracking_categories.all(), key=lambda c: c.name)
    ]
    assert len(planned[str(split.pk)]["lines"]) == 2
