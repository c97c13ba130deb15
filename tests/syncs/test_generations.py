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
from tests.factories import LedgerAccountFactory
from tests.syncs.dashboard_data import coded_expense, coded_transfer, pushable_company

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


def test_the_newer_generation_plans_each_transfer_as_a_batch_and_a_sync_of_its_own():
    books = pushable_company()
    _speaks(books.company, ApiGeneration.EXPENSES)
    payments = [coded_expense(books, status=ExpenseStatus.APPROVED) for _ in range(2)]
    savings = LedgerAccountFactory(
        company=books.company,
        name="Savings",
        account_type="Asset",
        is_bank_account=True,
        valid_transaction_types=[],
        valid_for=["transfer-transactions"],
    )
    transfers = [
        coded_transfer(books, savings, type=kind) for kind in ("TransferIn", "TransferOut")
    ]
    ctx = company_context(company=books.company)

    claim = company_push_claim(company=books.company)

    assert (claim.claimed, claim.sent_back) == (4, 0)
    batches = list(PushBatch.objects.filter(company=books.company).order_by("created_at"))
    assert sorted((b.endpoint, b.items.count()) for b in batches) == [
        ("expense-transactions", 2),
        ("transfer-transactions", 1),
        ("transfer-transactions", 1),
    ]
    # A sync of its own each, each under a key of its own, planned before any call.
    assert len({b.sync_id for b in batches}) == 3
    assert len({b.idempotency_key for b in batches} - {None}) == 3
    [expenses] = [b for b in batches if b.endpoint == "expense-transactions"]
    assert sorted(expenses.payload, key=lambda item: item["id"]) == sorted(
        (expense_item(expense=e, lines=ledger_lines(expense=e), ctx=ctx) for e in payments),
        key=lambda item: item["id"],
    )
    for transfer in transfers:
        [batch] = [b for b in batches if b.items.filter(expense=transfer).exists()]
        [item] = batch.payload
        assert item == expense_item(expense=transfer, lines=ledger_lines(expense=transfer), ctx=ctx)
        assert set(item) == {"id", "date", "from", "to", "description"}
    assert {s.expenses_api for s in Sync.objects.filter(company=books.company)} == {"expenses"}


def test_a_transfer_coded_as_a_payment_goes_back_to_coding_with_the_reason():
    books = pushable_company()
    _speaks(books.company, ApiGeneration.EXPENSES)
    # Coded to an expense account, with tax: neither goes on a transfer.
    transfer = coded_expense(books, status=ExpenseStatus.APPROVED, type="TransferOut")

    claim = company_push_claim(company=books.company)

    assert (claim.claimed, claim.sent_back) == (0, 1)
    transfer.refresh_from_db()
    assert transfer.status == ExpenseStatus.UNCATEGORIZED
    assert "A transfer carries no tax" in transfer.needs_recoding_reason
    assert not PushBatch.objects.filter(company=books.company).exists()
