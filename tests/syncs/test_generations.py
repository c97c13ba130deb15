"""A company speaks one generation of Codat's expenses API at a time, and every sync and batch
keeps the one it was written through: a push claimed under v1 is carried on by v1 whatever the
company speaks since."""

from __future__ import annotations

from typing import Any

import pytest

from companies.models import Company
from companies.platforms import ApiGeneration
from expenses.ledger import expense_item, ledger_lines
from expenses.models import ExpenseStatus
from expenses.validation import company_context
from syncs.claim import company_push_claim
from syncs.models import PushBatch, Sync
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db


def _approved(books: Any, count: int) -> None:
    for _ in range(count):
        coded_expense(books, status=ExpenseStatus.APPROVED)


def _speaks(company: Company, generation: str) -> None:
    Company.objects.filter(pk=company.pk).update(expenses_api=generation)
    company.expenses_api = generation


def test_a_v1_push_is_one_sync_of_keyless_batches_stamped_v1():
    books = pushable_company()
    _approved(books, 60)

    claim = company_push_claim(company=books.company)

    [sync] = Sync.objects.filter(company=books.company)
    assert claim.sync == sync
    assert sync.expenses_api == ApiGeneration.V1
    batches = PushBatch.objects.filter(company=books.company)
    assert [(b.expenses_api, b.idempotency_key) for b in batches] == [("v1", None)] * 2


def test_a_push_in_the_newer_generation_is_a_sync_per_batch_each_with_its_own_key():
    books = pushable_company()
    _speaks(books.company, ApiGeneration.EXPENSES)
    _approved(books, 60)

    claim = company_push_claim(company=books.company)

    syncs = list(Sync.objects.filter(company=books.company).order_by("pk"))
    assert claim.syncs == syncs
    assert [s.expenses_api for s in syncs] == ["expenses", "expenses"]
    batches = [s.batches.get() for s in syncs]
    assert sorted(b.items.count() for b in batches) == [10, 50]
    assert {b.expenses_api for b in batches} == {"expenses"}
    assert len({b.idempotency_key for b in batches} - {None}) == 2
    assert {b.key_first_sent_at for b in batches} == {None}


def test_the_claim_plans_for_the_generation_the_company_speaks_under_its_lock():
    books = pushable_company()
    _approved(books, 3)
    stale = Company.objects.get(pk=books.company.pk)
    _speaks(books.company, ApiGeneration.EXPENSES)  # switched after the push read the company

    company_push_claim(company=stale)

    sync = Sync.objects.get(company=books.company)
    assert sync.expenses_api == ApiGeneration.EXPENSES
    assert sync.batches.get().idempotency_key is not None


def test_the_newer_generation_plans_its_own_items_and_sends_a_transfer_back_to_coding():
    books = pushable_company()
    _speaks(books.company, ApiGeneration.EXPENSES)
    payment = coded_expense(books, status=ExpenseStatus.APPROVED)
    transfer = coded_expense(books, status=ExpenseStatus.APPROVED, type="TransferOut")
    ctx = company_context(company=books.company)

    claim = company_push_claim(company=books.company)

    assert (claim.claimed, claim.sent_back) == (1, 1)
    [item] = Sync.objects.get(company=books.company).batches.get().payload
    assert item == expense_item(expense=payment, lines=ledger_lines(expense=payment), ctx=ctx)
    transfer.refresh_from_db()
    assert transfer.status == ExpenseStatus.UNCATEGORIZED
    assert transfer.needs_recoding_reason.startswith(
        "Codat's Expenses API takes Xero transfers through an endpoint of their own"
    )
