"""Syncs as the pipeline leaves them, for the dashboard's and the sync pages' tests: settled
syncs with their per-transaction results, and a company that can push again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from companies.models import Company, CompanyStatus, ConnectionKind
from companies.platforms import Platform
from expenses.models import Expense, ExpenseStatus
from syncs.causes import normalise_cause
from syncs.models import (
    BatchState,
    PushBatch,
    PushBatchItem,
    Sync,
    SyncState,
    SyncTransaction,
    TransactionStatus,
)
from tests.expenses.conftest import make_books
from tests.factories import ConnectionFactory, ExpenseFactory, ExpenseLineFactory


def pushable_company(*, name: str = "", platform: str = Platform.XERO) -> Any:
    """A configured, linked company whose coded expenses pass validation."""
    books = make_books(platform=platform)
    company = books.company
    if name:
        company.name = name
    company.status = CompanyStatus.READY
    company.master_data_refreshed_at = timezone.now()
    company.save()
    ConnectionFactory(company=company)
    ConnectionFactory(company=company, kind=ConnectionKind.PARTNER_EXPENSE, platform_key="sfe")
    company.configuration.saved_to_codat_at = timezone.now()
    company.configuration.save()
    return books


def coded_expense(books: Any, *, status: str, **fields: Any) -> Expense:
    expense = ExpenseFactory(
        company=books.company,
        status=status,
        amount=Decimal("12.00"),
        approved_at=timezone.now() if status != ExpenseStatus.UNCATEGORIZED else None,
        **fields,
    )
    ExpenseLineFactory(
        expense=expense,
        account=books.travel,
        tax_rate=books.vat,
        net_amount=Decimal("10.00"),
        tax_amount=Decimal("2.00"),
    )
    return expense


def coded_transfer(
    books: Any, account: Any, *, type: str = "TransferOut", **fields: Any
) -> Expense:
    """An approved transfer between the card's account and `account` (one line, no tax)."""
    expense = ExpenseFactory(
        company=books.company,
        type=type,
        status=ExpenseStatus.APPROVED,
        amount=Decimal("250.00"),
        approved_at=timezone.now(),
        **fields,
    )
    ExpenseLineFactory(
        expense=expense,
        account=account,
        tax_rate=None,
        net_amount=Decimal("250.00"),
        tax_amount=Decimal("0.00"),
    )
    return expense


@dataclass
class SettledSync:
    sync: Sync
    completed: list[Expense] = field(default_factory=list)
    failed: list[Expense] = field(default_factory=list)


def settled_sync(
    books: Any,
    *,
    at: datetime,
    completed: int = 0,
    failures: list[str] | None = None,
    status_code: int | None = None,
) -> SettledSync:
    """A finished sync of the company, its dataset, and one result per expense: `completed`
    written to the ledger and one failure per message in `failures`."""
    failures = failures or []
    succeeded = not failures
    code = status_code if status_code is not None else (2000 if succeeded else 4000)
    company: Company = books.company
    sync = Sync.objects.create(
        company=company,
        codat_sync_id=__import__("uuid").uuid4(),
        state=SyncState.SUCCEEDED if succeeded else SyncState.FAILED,
        status_code=code,
        status_text="Success" if succeeded else "Validation error",
        completed_at=at + timedelta(seconds=40),
        results_fetched_at=at + timedelta(seconds=41),
        transactions_completed=completed,
        transactions_failed=len(failures),
        configuration_snapshot={
            "bank_account": {"id": books.card.codat_id, "name": "Company card"}
        },
    )
    Sync.objects.filter(pk=sync.pk).update(requested_at=at)
    sync.refresh_from_db()
    batch = PushBatch.objects.create(
        company=company, sync=sync, state=BatchState.DONE, dataset_id=__import__("uuid").uuid4()
    )
    result = SettledSync(sync=sync)
    for _ in range(completed):
        expense = coded_expense(books, status=ExpenseStatus.SYNCED)
        result.completed.append(expense)
    for message in failures:
        expense = coded_expense(
            books, status=ExpenseStatus.FAILED, failure_message=f"Codat refused it: {message}"
        )
        result.failed.append(expense)
    for expense in result.completed + result.failed:
        PushBatchItem.objects.create(batch=batch, expense=expense)
    rows = [
        SyncTransaction(
            sync=sync,
            company=company,
            transaction_id=e.pk,
            expense=e,
            status=TransactionStatus.COMPLETED,
        )
        for e in result.completed
    ] + [
        SyncTransaction(
            sync=sync,
            company=company,
            transaction_id=e.pk,
            expense=e,
            status=TransactionStatus.VALIDATION_ERROR,
            message=message,
            cause=normalise_cause(message),
        )
        for e, message in zip(result.failed, failures, strict=True)
    ]
    SyncTransaction.objects.bulk_create(rows)
    SyncTransaction.objects.filter(sync=sync).update(fetched_at=at + timedelta(seconds=41))
    return result
